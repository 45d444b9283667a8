"""Files written so that a reader sees the old content or the new, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], object], *, durable: bool = False) -> None:
    """Let ``write`` fill a temporary file beside ``path``, then rename it over ``path``.

    ``durable``: flushed to disk before the rename, for what must survive a crash (the registry);
    caches and reports can be rebuilt and skip the fsync. The file is readable by others (0644),
    as a plain write would leave it: ``mkstemp`` alone makes it 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, text: str, *, durable: bool = False) -> None:
    """``text`` into ``path`` through :func:`replace_atomically`."""
    replace_atomically(path, lambda tmp: tmp.write_text(text), durable=durable)
