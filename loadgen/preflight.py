"""Checks against the target before a load starts: what the flags alone cannot tell."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from .config import LoadConfig, LoadConfigError


def served_month(url: str, timeout: float = 3.0) -> str | None:
    """The month a StreamFlow API's online store serves (its ``/health``), or None when the target does
    not say (not StreamFlow, or not answering: the load itself then reports what happens)."""
    parts = urlsplit(url)
    try:
        answer = httpx.get(urlunsplit((parts.scheme, parts.netloc, "/health", "", "")), timeout=timeout)
        month = answer.json().get("served_month") if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return month if isinstance(month, str) else None


def check_payload_month(config: LoadConfig, served: str | None) -> None:
    """A user id is scored with the *served* month's features; its label comes from ``config.month``'s
    rows. Different months would join one month's truth to another's predictions (measured: realised AUC
    0.712 instead of 0.843), so that combination is refused."""
    if config.payload != "user_id" or served is None or served == config.month:
        return
    raise LoadConfigError(
        f"payload month {config.month} is not the month the API serves ({served}, from its /health):"
        f" user ids would be scored with {served}'s features and labelled with {config.month}'s churn."
        f" Pick month {served} (--month {served}), or payload features (--payload features) to send"
        f" {config.month}'s own rows"
    )
