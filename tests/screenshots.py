"""Pictures of the console as a user sees it: the console's own SVG export (spaces kept, #27 item 15),
converted to PNG by rsvg-convert."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from streamflow_tui.session_keys import screenshot_svg

SCREENSHOTS_DIR = os.environ.get("STREAMFLOW_SCREENSHOTS_DIR")  # set it to keep every view's PNG of a test run


def save_png(app, path: Path) -> Path:
    """The app's screen as ``path`` (.png), through an SVG beside it."""
    if shutil.which("rsvg-convert") is None:
        raise RuntimeError("rsvg-convert is missing: apt-get install librsvg2-bin")
    svg = path.with_suffix(".svg")
    svg.write_text(screenshot_svg(app))
    subprocess.run(["rsvg-convert", str(svg), "-o", str(path)], check=True, timeout=60)
    return path
