"""Every advertised key works from every view and every focus position; Esc always leaves a field;
selects do not eat action keys; the footer says which keys a focused field takes; the mouse works.

The actions are wrapped to count their calls: what is under test is the route from a key press to its
action whatever has the focus (each action's own effect is tested with real parts elsewhere). The tab
keys are checked by their real effect.
"""

from __future__ import annotations

import pytest
from fake_sources import T0, FakeSource
from textual.widgets import DataTable, Input, Select

from streamflow_tui.app import StreamFlowApp, create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.drift import DriftEngine
from streamflow_tui.widgets.help_screen import HelpScreen

VIEWS = ["overview", "traffic", "model", "drift", "load"]
# Every one-key action a live session advertises but quit (pressed last, on its own) and the tab digits (checked
# by effect). A replay's own keys are hidden in a live session; tests/test_record_replay.py presses them.
ACTIONS = {
    b.key.split(",")[0]: b.action
    for b in StreamFlowApp.BINDINGS
    # ctrl+c quits from a field too, by design (test_console_help): it would end this test's app.
    if b.action not in ("quit", "quit_anywhere", "leave_field") and not b.action.startswith(("tab(", "replay_"))
}


def make_app(tmp_path):
    config = ConsoleConfig(
        api_url="http://127.0.0.1:9",
        interval=3600,
        history=3600,
        chart_interval=0,
        reports_dir=str(tmp_path),
        export_dir=str(tmp_path),
    )
    app = create_app(
        config, source=FakeSource(start=20), drift_engine=DriftEngine(warm=False), clock=lambda: T0.timestamp()
    )
    # Each press waits for running animations (the tabs' underline slides ~0.3 s on every switch); what is
    # under test is where a key goes, not the slide.
    app.animation_level = "none"
    return app


def count_actions(app, monkeypatch) -> dict[str, int]:
    calls = {action: 0 for action in ACTIONS.values()}
    for action in calls:

        def counted(*_, action=action):
            calls[action] += 1

        monkeypatch.setattr(app, f"action_{action}", counted)
    return calls


def focus_positions(app) -> list:
    """None (nothing focused) and every focusable widget of the active view, the tabs, the table…"""
    return [None] + [w for w in app.screen.focus_chain if w.display]


@pytest.mark.parametrize("view", VIEWS)
async def test_every_key_from_every_focus_position(tmp_path, monkeypatch, view):
    app = make_app(tmp_path)
    calls = count_actions(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(str(VIEWS.index(view) + 1))
        await pilot.pause()
        assert app.query_one("#views").active == view
        positions = focus_positions(app)
        assert len(positions) >= 2  # at least the tabs can take the focus
        for widget in positions:
            editing = isinstance(widget, Input)
            for key, action in ACTIONS.items():
                app.screen.set_focus(widget)  # the counted actions stand in for d and r: the view stays
                before = calls[action]
                await pilot.press(key)
                where = f"{key} with {widget!r} focused on {view}"
                if editing:  # the key types into the field, and the footer shows the action disabled
                    assert calls[action] == before, f"{where}: ran {action} while a field is edited"
                    assert app.check_action(action, ()) is None and app.check_action("leave_field", ()) is True
                else:
                    assert calls[action] == before + 1, f"{where}: {action} ran {calls[action] - before} times"
                if isinstance(app.screen, HelpScreen):
                    await pilot.press("escape")
            if editing:  # esc leaves the field: from there every key works (the None position above)
                app.screen.set_focus(widget)
                await pilot.press("escape")
                assert app.focused is None, f"esc did not leave {widget!r}"
                continue
            for digit, target in enumerate(VIEWS, start=1):  # the digits switch views from here too
                if target == view:
                    continue
                app.screen.set_focus(widget)
                await pilot.press(str(digit))
                assert app.query_one("#views").active == target, f"{digit} with {widget!r} focused"
                await pilot.press(str(VIEWS.index(view) + 1))
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_esc_leaves_fields_and_footer_follows_the_focus(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        rate = app.query_one("#load-rate", Input)
        await pilot.click(rate)
        assert app.focused is rate
        assert app.check_action("toggle_load", ()) is None and app.check_action("leave_field", ()) is True
        await pilot.press("escape")
        assert app.focused is None
        assert app.check_action("toggle_load", ()) is True and app.check_action("leave_field", ()) is False

        month = app.query_one("#load-month", Select)
        app.screen.set_focus(month)
        await pilot.press("3")  # no type-to-search: the digit switches the view, the month stays
        assert app.query_one("#views").active == "model" and month.value == "month_005"
        await pilot.press("5")
        app.screen.set_focus(month)
        await pilot.press("enter")  # the list opens; esc closes it, and a second esc leaves the select
        assert month.expanded
        await pilot.press("escape")
        assert not month.expanded
        await pilot.press("escape")
        assert app.focused is None


async def test_the_mouse_clicks_tabs_rows_and_buttons(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    calls = count_actions(app, monkeypatch)
    async with app.run_test(size=(160, 48)) as pilot:
        for view in ("drift", "traffic", "model", "load", "overview"):
            await pilot.click(f"#--content-tab-{view}")
            assert app.query_one("#views").active == view
        await pilot.click("#--content-tab-load")
        await pilot.click("#load-toggle")
        assert calls["toggle_load"] == 1
        await pilot.click("#--content-tab-drift")
        await pilot.click("#drift-run")
        assert calls["run_drift"] == 1
        await pilot.click("#--content-tab-traffic")
        await pilot.pause()
        table = app.query_one("#series-table", DataTable)
        assert table.row_count == 3
        await pilot.click(table, offset=(2, 3))  # the header is row 0 on screen: the third row
        assert table.cursor_row == 2


async def test_fields_validate_what_is_typed_and_l_says_which_is_wrong(tmp_path):
    """The Load view's fields carry validators: a rate of 0 is marked invalid as it is typed, and l refuses
    to start with the field named — it never falls back to a default in silence (#26, widgets own their inputs)."""
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("5")
        await pilot.click("#load-rate")
        rate = app.query_one("#load-rate", Input)
        await pilot.press("end", *["backspace"] * 3, "0")
        assert rate.value == "0" and rate.has_class("-invalid")
        await pilot.press("escape", "l")
        stats = str(app.query_one("#load-stats").render())
        assert "rate/s: '0'" in stats and app.loads.runner is None
        await pilot.click("#load-rate")
        await pilot.press("end", "backspace", "5", "0")
        assert not rate.has_class("-invalid")
        await app.action_quit()
