"""What the views share: they draw from the console's state, and again when their size changes."""

from __future__ import annotations

from textual.widget import Widget

from ..core.state import ConsoleState


class View(Widget):
    """A view that lays the state's numbers and charts out for its current size (``draw``).

    A view shown for the first time, or resized, is drawn again from the state: what was drawn before its
    layout (a hidden tab has no size) would be sized for the wrong width.
    """

    state: ConsoleState | None = None

    def draw(self, state: ConsoleState, *, charts: bool) -> None:
        raise NotImplementedError

    def on_resize(self) -> None:
        if self.state is not None and self.state.shown is not None:
            self.draw(self.state, charts=True)
