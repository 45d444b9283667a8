"""The loop from the console: a drift check, r retrains on its current data in the worker process, the API
(same registry) takes the new champion over, and the console shows the switch. And --once --retrain for cron."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import running_api
from test_console import INTERVAL_S, console, wait_for
from textual.widgets import Input, Select

from api.registry import CHAMPION, LocalRegistry
from api.settings import default_cache_dir
from streamflow_tui import cli
from streamflow_tui.app import StreamFlowApp, create_app
from streamflow_tui.core.embedded import PRIVATE_REGISTRY_PREFIX


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


# #27 item 14: a console's embedded API serves a registry of its own, so its r promotes there and nowhere else.


@pytest.fixture
def shared_api(monkeypatch):
    """An API on the account's shared registry (<cache>/streamflow/registry, no flag), checking it every 0.2 s;
    the console's embedded API is told by the environment to check its own every 0.5 s."""
    monkeypatch.delenv("STREAMFLOW_API_REGISTRY_LOCATION", raising=False)
    monkeypatch.delenv("STREAMFLOW_API_REGISTRY", raising=False)
    with running_api("--registry-poll", "0.2") as api:
        monkeypatch.setenv("STREAMFLOW_API_REGISTRY_POLL_S", "0.5")
        yield api


def shared_champion() -> str | None:
    return LocalRegistry(default_cache_dir() / "registry").alias(CHAMPION)


def test_r_in_a_console_promotes_into_its_own_registry_only(shared_api, tmp_path, monkeypatch):
    """streamflow-tui as typed (no --api-url, no registry named), driven by key presses: r promotes into the
    embedded API's private registry, that API swaps, the account's shared API does not, and the private
    registry is gone when the console quits."""
    served = httpx.get(shared_api + "/health").json()["model_version"]
    before = shared_champion()
    seen: dict[str, object] = {}

    async def session(app: StreamFlowApp) -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.model is not None)
            old = app.state.snapshot.model.version
            await pilot.press("4", "d")  # month_000 → month_003, the view's default: retraining triggered
            await wait_for(pilot, lambda: app.state.drift_result is not None, timeout=90)
            await pilot.press("r")  # --min-gain 0: month_003's challenger is promoted
            await wait_for(pilot, lambda: app.state.retrain_decision is not None, timeout=90)
            decision = app.state.retrain_decision
            assert decision.promoted and decision.champion.version == old, decision.reason
            seen["location"] = location = decision.registry.location
            assert Path(location).name.startswith(PRIVATE_REGISTRY_PREFIX) and Path(location).is_dir()
            # Its own API serves the new champion (it polls the registry r wrote to)…
            await wait_for(pilot, lambda: app.state.snapshot.model.version == decision.challenger.version, timeout=15)
            # …and the account's API, asked to check its registry now, still serves what it served.
            reload = httpx.post(shared_api + "/admin/reload", timeout=30).json()
            assert reload["model_version"] == served and shared_champion() == before
            await app.action_quit()

    # The console's own command line runs the app; here its run drives it with key presses instead.
    monkeypatch.setattr(StreamFlowApp, "run", lambda app, **_: asyncio.run(session(app)))
    argv = ["--interval", str(INTERVAL_S), "--min-gain", "0", "--reports-dir", str(tmp_path / "reports")]
    assert cli.main(argv) == 0
    assert "location" in seen and not os.path.exists(str(seen["location"]))  # removed with the embedded API


def test_once_retrain_without_an_api_promotes_into_a_registry_of_its_own(monkeypatch):
    """--once --retrain on the embedded API: the decision names its private registry, removed at exit; the
    account's shared registry is not touched."""
    monkeypatch.delenv("STREAMFLOW_API_REGISTRY_LOCATION", raising=False)
    before = shared_champion()
    done = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--window", "0"]
        + ["--drift", "month_000", "month_003", "--retrain", "--min-gain", "0"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    retrain = json.loads(done.stdout)["retrain"]
    assert retrain["decision"] == "PROMOTED", retrain
    location = retrain["registry"]["location"]
    assert Path(location).name.startswith(PRIVATE_REGISTRY_PREFIX) and not os.path.exists(location)
    assert shared_champion() == before
