"""#27 item 1: tab and shift+tab visit every control of a view and come back round, by real key presses (a text
field does not trap them); Enter presses a button and Space opens a select."""

from __future__ import annotations

import pytest
from test_console_help import make_app
from textual.widgets import Select
from waiting import wait_until_async

KEYS = {"overview": "1", "traffic": "2", "model": "3", "drift": "4", "load": "5"}
WITH_CONTROLS = {"drift", "load"}  # the other views are read, not set: their ring is the tabs (and a scroller)
SIZES = [(80, 24), (200, 60)]


def name(widget) -> str:
    return f"{type(widget).__name__}#{widget.id}" if widget is not None else "nothing"


async def walk(pilot, key: str, steps: int) -> list[str]:
    seen = []
    for _ in range(steps):
        await pilot.press(key)
        await pilot.pause()
        seen.append(name(pilot.app.focused))
    return seen


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(KEYS))
async def test_tab_and_shift_tab_visit_every_control_and_come_round(tmp_path, view, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.press(KEYS[view])
        await pilot.pause()
        pane = app.query_one(f"#{view}")
        controls = [name(w) for w in app.screen.focus_chain if w.display and pane in w.ancestors]
        assert view not in WITH_CONTROLS or len(controls) >= 4, controls
        n = len(app.screen.focus_chain)
        forward = await walk(pilot, "tab", 2 * n)
        # From nothing focused: the tabs, then every control of the view in order, then round again.
        ring = forward[:n]
        assert [w for w in ring if w in controls] == controls, forward
        assert forward[n:] == ring, forward
        backward = await walk(pilot, "shift+tab", 2 * n)
        assert backward[:n] == list(reversed(forward[n - 1 : 2 * n - 1])), backward
        assert backward[n:] == backward[:n], backward


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_enter_presses_the_buttons_and_space_opens_a_select(tmp_path, monkeypatch, size):
    app = make_app(tmp_path)
    calls = {"toggle_load": 0, "run_drift": 0}
    for action in calls:

        def counted(*_, action=action):
            calls[action] += 1

        monkeypatch.setattr(app, f"action_{action}", counted)
    async with app.run_test(size=size) as pilot:

        async def tab_to(widget_id: str) -> None:
            for _ in range(12):
                await pilot.press("tab")
                await pilot.pause()
                if app.focused is not None and app.focused.id == widget_id:
                    return
            raise AssertionError(f"tab never reached #{widget_id}")

        async def choose_with_space(select_id: str) -> None:
            """Space opens the select; down and Enter choose the next option."""
            await tab_to(select_id)
            select = app.query_one(f"#{select_id}", Select)
            before = select.value
            await pilot.press("space")
            await wait_until_async(lambda: select.expanded, 10, f"Space opens #{select_id}", pause=pilot.pause)
            await pilot.press("down", "enter")
            await wait_until_async(
                lambda: select.value != before and not select.expanded, 10, f"#{select_id} chosen", pause=pilot.pause
            )

        await pilot.press("5")
        await tab_to("load-toggle")
        await pilot.press("enter")
        await wait_until_async(lambda: calls["toggle_load"] == 1, 10, "Enter on Start", pause=pilot.pause)
        for select_id in ("load-mode", "load-month", "load-payload"):
            await choose_with_space(select_id)
        await pilot.press("4")
        for select_id in ("drift-reference", "drift-current"):
            await choose_with_space(select_id)
        await tab_to("drift-run")
        await pilot.press("enter")
        await wait_until_async(lambda: calls["run_drift"] == 1, 10, "Enter on Run", pause=pilot.pause)
