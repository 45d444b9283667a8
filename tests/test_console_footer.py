"""The footer at every width: the palette key flush right, and every key shown whole, none cut or showing
through beside the palette key (at 80 columns it used to end ``e E▏^p paletteo``)."""

from __future__ import annotations

import pytest
from test_console_keys import make_app
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from waiting import wait_until_async


def footer_line(app) -> str:
    return "".join(segment.text for segment in app.screen._compositor.render_full_update().strips[-1])


def whole(app) -> bool:
    footer = app.query_one(Footer)
    keys = [k for k in footer.query(FooterKey) if k.display and k.region.width]
    palette = [k for k in keys if k.has_class("-command-palette")]
    others = [k for k in keys if k not in palette]
    return bool(
        palette
        and others
        and palette[0].region.right == footer.region.right
        and all(k.region.right <= palette[0].region.x for k in others)
    )


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_key_in_the_footer_is_whole_and_the_palette_key_ends_it(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await wait_until_async(
            lambda: whole(app), 30, "whole keys, the palette key last", pause=pilot.pause, seen=lambda: footer_line(app)
        )
        assert footer_line(app).rstrip().endswith("^p palette")


async def test_the_keys_left_out_come_back_when_the_terminal_widens(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until_async(
            lambda: whole(app), 30, "whole keys at 80 columns", pause=pilot.pause, seen=lambda: footer_line(app)
        )
        assert "R Record" not in footer_line(app)
        await pilot.resize_terminal(200, 60)
        await wait_until_async(
            lambda: whole(app) and "R Record" in footer_line(app),
            30,
            "every key at 200 columns",
            pause=pilot.pause,
            seen=lambda: footer_line(app),
        )
