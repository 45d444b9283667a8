"""Update a widget only when what it shows changed: an idle console then costs (almost) nothing."""

from __future__ import annotations

from textual.widgets import Static


def set_if_changed(widget: Static, content) -> None:
    """``Static.update`` without a layout pass, skipped when the content equals the last one shown."""
    if getattr(widget, "_shown", None) == content:
        return
    widget._shown = content
    widget.update(content, layout=False)
