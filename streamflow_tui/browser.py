"""Open a report in a graphical browser, or say why not: never claim "opened" when nothing opened."""

from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path


def open_in_browser(path: str) -> str | None:
    """None when a browser took the file; otherwise the reason it could not be opened.

    Without a display, Python's webbrowser falls back to text browsers (lynx, w3m) that would take over
    the terminal the console is drawn in: over SSH or on a server, nothing is tried.
    """
    if sys.platform not in ("darwin", "win32") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no graphical display here (DISPLAY is not set)"
    try:
        opened = webbrowser.open(Path(path).resolve().as_uri())
    except webbrowser.Error as exc:
        return f"the browser failed: {exc}"
    return None if opened else "no browser found"
