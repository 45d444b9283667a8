"""Update a widget only when what it shows changed: an idle console then costs (almost) nothing."""

from __future__ import annotations

from textual.widgets import Static


def set_if_changed(widget: Static, content, *, layout: bool = False) -> None:
    """``Static.update``, skipped when the content equals the last one shown.

    Without a layout pass unless asked: a layout pass repaints the whole screen
    (tens of ms at 160×48), and a fixed-height widget does not need one.
    """
    if getattr(widget, "_shown", None) == content:
        return
    setattr(widget, "_shown", content)  # noqa: B010  (a mark of our own on Textual's widget)
    widget.update(content, layout=layout)
