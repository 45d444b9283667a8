"""How to reach an HTTP endpoint: extra headers, credentials and TLS, for the API and for Prometheus.

Real deployments put Prometheus-compatible backends behind a path prefix
(``/select/0/prometheus``), a tenant header (``X-Scope-OrgID``), a bearer token
(a Kubernetes service-account file) or basic auth, and serve TLS with a private
CA. Secrets never come from the command line (``ps`` shows it): a token comes
from a file or an environment variable, a basic-auth password from an
environment variable (or the URL's ``user:password@``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConnectionOptionsError


@dataclass(frozen=True)
class ConnectionOptions:
    headers: tuple[tuple[str, str], ...] = ()
    bearer_token_file: str | None = None
    bearer_token_env: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password_env: str | None = None
    ca_file: str | None = None
    insecure: bool = False

    @staticmethod
    def parse_headers(items: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        out = []
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise ConnectionOptionsError(f"expected a header as NAME=VALUE, got {item!r}")
            out.append((name.strip(), value))
        return tuple(out)

    def _token(self) -> str | None:
        if self.bearer_token_file:
            try:
                token = Path(self.bearer_token_file).read_text().strip()
            except OSError as exc:
                raise ConnectionOptionsError(
                    f"cannot read the bearer token file {self.bearer_token_file}: {exc.strerror}"
                ) from None
            if not token:
                raise ConnectionOptionsError(f"the bearer token file {self.bearer_token_file} is empty")
            return token
        if self.bearer_token_env:
            token = os.environ.get(self.bearer_token_env, "").strip()
            if not token:
                raise ConnectionOptionsError(
                    f"environment variable {self.bearer_token_env} (bearer token) is not set or empty"
                )
            return token
        return None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client`` / ``httpx.AsyncClient``; raises ConnectionOptionsError."""
        headers = dict(self.headers)
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": headers}
        if self.basic_auth_user is not None:
            password = os.environ.get(self.basic_auth_password_env or "", "") if self.basic_auth_password_env else ""
            import httpx  # here: the command line reads these options without loading the HTTP client

            kwargs["auth"] = httpx.BasicAuth(self.basic_auth_user, password)
        if self.insecure:
            kwargs["verify"] = False
        elif self.ca_file:
            if not Path(self.ca_file).is_file():
                raise ConnectionOptionsError(f"CA bundle {self.ca_file} does not exist")
            import ssl

            try:
                kwargs["verify"] = ssl.create_default_context(cafile=self.ca_file)
            except (ssl.SSLError, OSError) as exc:
                raise ConnectionOptionsError(f"CA bundle {self.ca_file} cannot be loaded: {exc}") from None
        return kwargs


def connection_reason(exc: Exception) -> str:
    """A short reason for a failed connection, the same wording for every source."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:  # async transports wrap the OSError ("All connection attempts failed")
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower() for e in chain):
        return "connection refused"
    text = str(exc)
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS error: {text} (see --ca-file / --insecure)"
    return text or type(exc).__name__
