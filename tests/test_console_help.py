"""#27 item 6: help lists only the keys that apply here, and at 80×24 scrolls by keyboard to its last keys."""

from __future__ import annotations

import pytest
from fake_sources import T0, FakeSource
from waiting import wait_until_async

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.drift import DriftEngine
from streamflow_tui.widgets.help_screen import HelpScreen


def make_app(tmp_path):
    config = ConsoleConfig(
        api_url="http://127.0.0.1:9", interval=3600, history=3600, chart_interval=0, reports_dir=str(tmp_path)
    )
    app = create_app(
        config, source=FakeSource(start=20), drift_engine=DriftEngine(warm=False), clock=lambda: T0.timestamp()
    )
    app.animation_level = "none"
    return app


def screen_text(app) -> str:
    return "\n".join("".join(s.text for s in strip) for strip in app.screen._compositor.render_full_update().strips)


def help_rows(app) -> list[tuple[str, str]]:
    table = app.screen.query_one("#help-table")
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def open_help(pilot):
    await pilot.press("question_mark")
    await wait_until_async(lambda: isinstance(pilot.app.screen, HelpScreen), 10, "the help", pause=pilot.pause)
    await pilot.pause()


async def test_a_live_session_lists_only_its_keys(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_help(pilot)
        keys = [k for k, _ in help_rows(app)]
        descriptions = [d for _, d in help_rows(app)]
        for replay_only in (",", ".", "g"):
            assert replay_only not in keys, keys
        assert "Leave field" not in descriptions
        assert keys[-3:] == ["1–5", "tab", "esc"] and "R" in keys and "d" in keys


@pytest.mark.parametrize("scroll_key", ["end", "pagedown"])
async def test_at_80x24_the_last_keys_are_reached_by_keyboard(tmp_path, scroll_key):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_help(pilot)
        assert "Leave a field; close this help".lower() not in screen_text(app).lower()  # below the fold at first
        for _ in range(4):
            await pilot.press(scroll_key)
        await pilot.pause()
        text = screen_text(app)
        for line in ("R  ", "Record", "1–5", "tab", "esc", "leave a field; close this help"):
            assert line in text, text
        await pilot.press("home")
        await pilot.pause()
        assert "StreamFlow keys" in screen_text(app)
        await pilot.press("escape")
        await wait_until_async(lambda: not isinstance(app.screen, HelpScreen), 10, "help closed", pause=pilot.pause)


async def test_ctrl_c_quits_even_from_a_text_field(tmp_path):
    """#27 item 15: a terminal program stops on ctrl+c (Textual's default makes it copy, and says ctrl+q)."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        for _ in range(6):
            await pilot.press("tab")
            if app.focused is not None and app.focused.id == "load-rate":
                break
        assert app.focused is not None and app.focused.id == "load-rate"
        await pilot.press("ctrl+c")
        await wait_until_async(lambda: app._exit, 10, "the console quits", pause=pilot.pause)
    assert app.return_code == 0


async def test_the_palette_offers_only_the_actions_that_apply(tmp_path):
    """#27 item 6: in a live session the command palette listed the replay's Back, Forward and Go to time, which
    do nothing there. ctrl+p and a letter typed: once a live action that has it is listed, no replay one is."""
    from textual.command import CommandList, CommandPalette

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await wait_until_async(lambda: isinstance(app.screen, CommandPalette), 10, "the palette", pause=pilot.pause)

        def listed() -> list[str]:
            options = app.screen.query_one(CommandList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        for letter, live, replay_only in (("o", "Report", ("Forward", "Go to time")), ("a", "Pause", ("Back",))):
            await pilot.press(letter)
            await wait_until_async(
                lambda live=live: any(live in p for p in listed()), 10, f"{live} listed", pause=pilot.pause
            )
            assert not any(r in p for p in listed() for r in replay_only), listed()
            await pilot.press("backspace")
