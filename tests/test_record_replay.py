"""--record writes a live session as it goes; --replay plays it back through the same views, with pause,
steps, speed and jumps, the status line saying it is a replay and which moment is shown."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from test_console import api, console, wait_for  # noqa: F401  (api is a fixture)
from test_console_snapshots import DRIFT

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.recording import Recorder, Recording
from streamflow_tui.core.replay import Replay
from streamflow_tui.messages import DriftDone


def status(app) -> str:
    return str(app.query_one("#status-line").render())


async def test_a_recorded_session_replays_with_seeking(api, tmp_path):  # noqa: F811
    port, _ = api
    path = tmp_path / "session.db"
    recorder = Recorder(path, interval=0.3, source="scrape", api_url=f"http://127.0.0.1:{port}")
    app = create_app(console(tmp_path, api_url=f"http://127.0.0.1:{port}"), recorder=recorder)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "● REC session.db" in status(app)
        await pilot.press("5", "l")  # load at 200 req/s: the recording holds traffic and load phases
        await wait_for(pilot, lambda: (app.state.snapshot.requests.rps or 0) > 100)
        app.post_message(DriftDone(DRIFT))  # a drift result, as the worker posts it
        polls_before = app.state.polls
        await wait_for(pilot, lambda: app.state.polls >= polls_before + 10)
        await pilot.press("l")
        await wait_for(pilot, lambda: not app.loads.runner.running)
        recorded_polls = app.state.polls
        await pilot.press("q")
    recording = Recording.open(path)
    assert abs(len(recording.times) - recorded_polls) <= 1  # every poll (one may land after the count was read)
    assert recording.event_at("drift", recording.end)[1] == DRIFT
    running = [load for _, load in recording.events_between("load", recording.start, recording.end) if load.running]
    assert running and running[-1].target_rate == 200

    busy = max(range(len(recording.times)), key=lambda i: recording.snapshot_at(i).requests.rps or 0)
    busy_rps = recording.snapshot_at(busy).requests.rps
    replay = Replay(recording, history_s=600)
    replay.playing = False
    config = ConsoleConfig(api_url=recording.meta["api_url"], interval=0.3, export_dir=str(tmp_path))
    app = create_app(config, replay=replay)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.frame is not None)
        assert app.state.frame.index == 0 and "REPLAY" in status(app) and "⏸" in status(app)
        first = time.strftime("%H:%M:%S", time.localtime(recording.start))
        assert first in status(app) and f"1/{len(recording.times)}" in status(app)

        await pilot.press("end")
        await wait_for(pilot, lambda: app.state.frame.index == len(recording.times) - 1)
        assert app.state.drift_result == DRIFT  # the drift result recorded before that moment
        assert len(app.state.timeline.points) == len(recording.times)  # the charts hold the history up to it

        await pilot.press("home", *["full_stop"] * busy)
        await wait_for(pilot, lambda: app.state.frame.index == busy)
        assert app.state.snapshot.requests.rps == busy_rps  # the very snapshot recorded then
        await pilot.press("comma")
        await wait_for(pilot, lambda: app.state.frame.index == busy - 1)

        await pilot.press("g")  # jump: a wrong time is said in the dialog, which stays open
        await pilot.press(*"soon", "enter")
        assert "is not a time" in str(app.screen.query_one("#jump-error").render())
        target = time.strftime("%H:%M:%S", time.localtime(recording.times[-3]))
        app.screen.query_one("#jump-time").value = target
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                app.state.frame.index
                == recording.index_at(
                    time.mktime(
                        time.strptime(
                            time.strftime("%Y-%m-%d ", time.localtime(recording.times[-3])) + target,
                            "%Y-%m-%d %H:%M:%S",
                        )
                    )
                )
            ),
        )

        await pilot.press("home", "plus", "plus", "p")  # play at ×4 from the start: it moves on by itself
        assert "×4" in status(app) and "▶" in status(app)
        await wait_for(pilot, lambda: app.state.frame.index >= 5, timeout=20)

        await pilot.press("l")  # a live action cannot run on a recording: it says why
        assert app.loads.runner is None
        assert any("cannot start or stop load in a replay" in n.message for n in app._notifications)
        await pilot.press("q")


def test_replay_of_a_file_that_is_not_a_recording_is_a_usage_error(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("not a database at all, just some words that are long enough to be a header" * 10)
    for args, says in (
        (["--replay", str(tmp_path / "missing.db")], "no such file"),
        (["--replay", str(bad)], "cannot open recording"),
        (["--replay", str(bad), "--api-url", "http://127.0.0.1:9"], "--api-url watches a live service"),
        (
            ["--record", str(tmp_path / "no" / "such" / "dir" / "x.db"), "--api-url", "http://127.0.0.1:9"],
            "cannot record to",
        ),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "streamflow_tui.cli", *args], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert says in proc.stderr, (args, proc.stderr)


@pytest.mark.parametrize("speed_presses, expected", [(0, 1.0), (3, 8.0)])
def test_replay_speed_steps(tmp_path, speed_presses, expected):
    from fake_sources import snapshot

    from streamflow_tui.core.timeline import point_of

    with Recorder(tmp_path / "r.db", interval=1, source="scrape", api_url=None) as rec:
        for i in range(5):
            s = snapshot(i)
            rec.add_poll(s, point_of(s))
    replay = Replay(Recording.open(tmp_path / "r.db"), 600)
    for _ in range(speed_presses):
        replay.faster(True)
    assert replay.speed == expected
    assert replay.delay() == pytest.approx(1.0 / expected)
    assert replay.target("+2s") == replay.recording.times[0] + 2
    with pytest.raises(ValueError, match="not a time"):
        replay.target("25:00")
