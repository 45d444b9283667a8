"""``g`` in a replay: type a time to jump to; a wrong one is said in the dialog, which stays open."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class JumpScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    JumpScreen { align: center middle; }
    JumpScreen > Vertical { width: 56; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    JumpScreen #jump-error { color: $error; height: auto; }
    """

    def __init__(self, parse: Callable[[str], float]):
        super().__init__()
        self._parse = parse

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("go to a time: HH:MM[:SS], or +30s / -5m / +1h from the moment shown")
            yield Input(placeholder="12:04:30", id="jump-time")
            yield Static("", id="jump-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self._parse(event.value)
        except ValueError as exc:
            self.query_one("#jump-error", Static).update(str(exc))
            return
        self.dismiss(event.value)
