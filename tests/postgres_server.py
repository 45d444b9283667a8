"""A real PostgreSQL server for the tests: Debian's postgresql, a throwaway cluster on a loopback port.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the ``postgres`` user
(``runuser``) in a directory that user owns. The cluster has a password-protected role for the API
(scram-sha-256 over TCP), so the tests exercise real authentication, and can be stopped and started
again on the same data (the restart tests).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port

USER = "streamflow"
PASSWORD = "s3cret-for-tests"  # a test cluster's; the tests check it never shows
DATABASE = "streamflow"


def bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass
class Postgres:
    port: int
    folder: Path
    bin: Path

    @property
    def url(self) -> str:
        """The URL without a password (the API takes the password from a file or the environment)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def password_file(self) -> Path:
        return self.folder / "password"

    def _as_postgres(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60)

    def start(self) -> None:
        self._as_postgres(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop", check=False)

    def psql(self, sql: str) -> str:
        """Run SQL as the superuser over the cluster's socket; its output, tab-separated."""
        return self._as_postgres(
            "psql", "-h", str(self.folder), "-p", str(self.port), "-d", DATABASE, "-At", "-F", "\t", "-c", sql
        ).stdout


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    where = bindir()
    if where is None:
        raise RuntimeError("PostgreSQL is not installed: ./scripts/test installs Debian's postgresql")
    folder = Path(tempfile.mkdtemp(prefix="streamflow-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = Postgres(free_port(), folder, where)
    (folder / "password").write_text(PASSWORD + "\n")
    os.chmod(folder / "password", 0o644)
    try:
        server._as_postgres("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        hba = folder / "data" / "pg_hba.conf"
        # Local socket: trust (the fixture's psql); TCP: a password, as a real deployment.
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        server.start()
        server._as_postgres("createdb", "-h", str(folder), "-p", str(server.port), "-U", "postgres", DATABASE)
        server.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'; GRANT ALL ON SCHEMA public TO {USER};")
        server.psql(f"ALTER DATABASE {DATABASE} OWNER TO {USER}")
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
