"""What the views share: drawn again when their size changes."""

from __future__ import annotations

from textual.widget import Widget


class View(Widget):
    """A view whose ``show`` lays text and charts out for its current size.

    A view shown for the first time, or resized, is drawn again with the last data: what was drawn
    before its layout (a hidden tab has no size) would be sized for the wrong width.
    """

    _last: tuple | None = None

    def remember(self, *args, **kwargs) -> None:
        self._last = (args, kwargs)

    def on_resize(self) -> None:
        if self._last is not None:
            args, kwargs = self._last
            self.show(*args, **{**kwargs, "charts": True})
