"""``?``: every key and what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-dialog {
        width: 60; height: auto; max-height: 90%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    HelpScreen #help-dialog:focus { border: thick $primary; }
    HelpScreen #help-title { text-style: bold; padding-bottom: 1; }
    HelpScreen #help-table { height: auto; }
    HelpScreen #help-footer { color: $text-muted; padding-top: 1; }
    """

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]):
        super().__init__()
        self._keys = bindings

    def compose(self) -> ComposeResult:
        # The dialog scrolls, by keyboard (up/down, PageUp/PageDown, Home/End): at 80×24 the keys do not all fit.
        # It holds the focus (the table takes none), so those keys reach it before the App's own Home/End.
        with VerticalScroll(id="help-dialog", can_focus=True):
            yield Static("StreamFlow keys — the same actions are in the command palette (ctrl+p)", id="help-title")
            table: DataTable[str] = DataTable(id="help-table", show_cursor=False)
            table.can_focus = False
            table.add_columns("key", "action")
            for key, description in self._keys:
                table.add_row(key, description)
            yield table
            yield Static(
                "Every key works from every view. While a text field has the focus, keys type into it: "
                "esc leaves the field (the footer shows the keys dimmed until then). Mouse: click tabs, "
                "rows and buttons. esc closes this.",
                id="help-footer",
            )

    def on_mount(self) -> None:
        self.query_one("#help-dialog").focus()
