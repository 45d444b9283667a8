"""The footer: Textual's compact Footer, showing only the keys that fit whole left of the palette key.

Textual's compact footer gives every key a right margin of one cell, the palette key too: docked right, that
key then stopped one cell short of the edge, and the key scrolled beneath it showed through there (at 80
columns, the ``o`` of ``Report`` after ``^p palette``), after a key cut in the middle (``e E``). Here the
palette key sits flush right, and a key that does not fit whole is left out (help, ``?``, lists them all).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def key_width(key: FooterKey) -> int:
    """Cells a compact key takes: its key, a space and its description, and the margin after it (none for the
    palette key, which has a one-cell border on its left instead)."""
    return cell_len(key.key_display) + 1 + cell_len(key.description) + 1


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter.-compact FooterKey.-command-palette {
        margin-right: 0;
    }
    """

    def compose(self) -> ComposeResult:
        widgets: list[Widget] = list(super().compose())
        room = self.size.width
        if not self.compact or room <= 0:  # not laid out yet: every key, until the resize recomposes
            yield from widgets
            return
        palette = [w for w in widgets if w.has_class("-command-palette")]
        room -= sum(key_width(w) for w in palette if isinstance(w, FooterKey))
        for widget in widgets:
            if widget in palette:
                continue
            if not isinstance(widget, FooterKey) or key_width(widget) > room:
                break
            room -= key_width(widget)
            yield widget
        yield from palette

    def on_resize(self) -> None:
        self.call_after_refresh(self.recompose)
