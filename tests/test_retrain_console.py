"""The loop from the console: a drift check, r retrains on its current data in the worker process, the API
(same registry) takes the new champion over, and the console shows the switch. And --once --retrain for cron."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import running_api
from test_console import console, wait_for
from textual.widgets import Input, Select

from streamflow_tui.app import create_app


@pytest.fixture
def registry(tmp_path):
    return str(tmp_path / "registry")


async def test_r_retrains_promotes_and_the_switch_is_shown(registry, tmp_path):
    with running_api("--registry-location", registry, "--registry-poll", "1") as api:
        app = create_app(console(tmp_path, api_url=api, registry_location=registry))
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.model is not None)
            old = app.state.snapshot.model.version
            await pilot.press("r")  # before any drift check: said, nothing runs
            assert app.drift.retrain_started is None
            await pilot.press("5")
            app.query_one("#load-rate", Input).value = "50"  # traffic across the switch: both models' scores
            await pilot.press("l")
            await pilot.press("4")
            app.query_one("#drift-current", Select).value = "month_004"
            await pilot.press("d")
            await wait_for(pilot, lambda: app.state.drift_result is not None, timeout=90)
            await pilot.press("r")
            await wait_for(pilot, lambda: app.state.retrain_decision is not None, timeout=90)
            decision = app.state.retrain_decision
            assert decision.decision == "PROMOTED" and decision.champion.version == old
            shown = str(app.query_one("#retrain-result").render())
            assert "PROMOTED" in shown and "champion" in shown and "challenger" in shown and "log loss" in shown
            # The API polls the same registry: within a poll (1 s) and a console poll (0.3 s) the console sees it.
            await wait_for(pilot, lambda: app.state.snapshot.model.version == decision.challenger.version, timeout=10)
            change = app.state.versions.last
            assert change.old == old and change.new == decision.challenger.version
            assert f"was {old}" in str(app.query_one("#status-line").render())
            await pilot.press("3")
            await wait_for(pilot, lambda: "old model" in str(app.query_one("#score-histogram").render()))
            await pilot.press("l")
            await wait_for(pilot, lambda: not app.loads.runner.running)
            errors = app.loads.runner.snapshot()
            assert errors.errors == 0 and errors.ok > 100  # the load ran across the promotion without an error
            await app.action_quit()


@pytest.mark.parametrize(
    "current, extra, expected",
    [
        ("month_003", [], "KEPT"),  # drift triggers retraining; the champion still fits
        ("month_004", [], None),  # little drift: not triggered, skipped
        ("month_004", ["--threshold", "0.1"], "PROMOTED"),
    ],
)
def test_once_drift_retrain(registry, current, extra, expected):
    with running_api("--registry-location", registry, "--registry-poll", "0") as api:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamflow_tui.cli",
                "--once",
                "--json",
                "--api-url",
                api,
                "--window",
                "0",
                "--drift",
                "month_000",
                current,
                "--retrain",
                "--registry-location",
                registry,
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["retrain"]["decision"] == expected
    if expected is None:
        assert "no retraining triggered (NO_ACTION)" in doc["retrain"]["skipped"]
    else:
        assert doc["retrain"]["challenger"]["data"] == current and doc["retrain"]["reason"]


def test_retrain_flag_needs_once_and_drift():
    done = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--retrain"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--retrain goes with --once --drift" in done.stderr
