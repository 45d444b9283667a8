"""Retraining through a command (#26): the console runs streamflow-retrain — or a user's pipeline — as a
process and reads the streamflow.retrain/1 decision it prints; anything else is a clear RetrainError."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import running_api

from streamflow_tui.core.errors import RetrainError
from streamflow_tui.core.retraining import RetrainJob, RetrainOutcome, retrain_argv, run_retrain

DECISION = {
    "schema": "streamflow.retrain/1",
    "decision": "KEPT",
    "reason": "log loss only +1.0 % better",
    "data": {"source": "DATA", "labelled_rows": 10, "train_rows": 7, "holdout_rows": 3},
    "champion": {"version": "v1", "data": "month_000", "metrics": {"log_loss": 0.4, "roc_auc": 0.8}},
    "challenger": {"version": "v2", "data": "DATA", "parent": "v1", "metrics": {"log_loss": 0.39, "roc_auc": 0.8}},
    "serving": "v1",
}


def pipeline(tmp_path: Path, body: str) -> str:
    """A user's pipeline: a script the console runs, with ``{data}`` in its command line."""
    script = tmp_path / "pipeline.py"
    script.write_text(body)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} --on {{data}} --gain {{min_gain}}"


def test_a_users_pipeline_plugs_in_with_placeholders(tmp_path):
    body = f"import json, sys\ndoc = {DECISION!r}\ndoc['data']['source'] = doc['challenger']['data'] = sys.argv[2]\n"
    body += "doc['min_gain'] = float(sys.argv[4])\nprint(json.dumps(doc))\n"
    decision = run_retrain(RetrainJob("month_003", min_gain=0.05, command=pipeline(tmp_path, body)))
    assert decision.decision is RetrainOutcome.KEPT and not decision.promoted
    assert decision.challenger.data == decision.data.source == "month_003" and decision.min_gain == 0.05
    assert decision.champion.metrics.log_loss == 0.4 and decision.challenger.metrics.brier is None


@pytest.mark.parametrize(
    "body, says",
    [
        ("print('training…')", "without printing a streamflow.retrain/1 decision"),
        ("import sys; print('boom', file=sys.stderr); sys.exit(3)", "exited 3 without printing"),
        ('print(\'{"schema": "other/1"}\')', "not a streamflow.retrain/1 decision"),
        (
            'print(\'{"schema": "streamflow.retrain/1", "decision": null, "error": "no labelled rows"}\'); exit(1)',
            "no labelled rows",
        ),
        (f"print({json.dumps({**DECISION, 'decision': 'MAYBE'})!r})", "malformed at decision"),
        (f"print({json.dumps(DECISION)!r}); exit(2)", "exited 2"),
    ],
)
def test_a_command_that_gives_no_decision_says_why(tmp_path, body, says):
    with pytest.raises(RetrainError, match=says):
        run_retrain(RetrainJob("month_003", command=pipeline(tmp_path, body)))


def test_a_missing_or_unreadable_command_says_why():
    with pytest.raises(RetrainError, match="'no-such-retrain-tool' was not found"):
        run_retrain(RetrainJob("month_003", command="no-such-retrain-tool {data}"))
    with pytest.raises(RetrainError, match="cannot be read as a command line"):
        retrain_argv(RetrainJob("month_003", command="retrain 'unclosed"))


def test_the_default_command_is_streamflow_retrain_with_the_jobs_arguments():
    argv = retrain_argv(RetrainJob("live", api_url="http://127.0.0.1:9", min_gain=0.05, registry_location="/r"))
    assert argv[1:3] == ["-m", "api.retrain_cli"]
    assert argv[3:] == ["--data", "live", "--min-gain", "0.05", "--registry", "local", "--registry-location", "/r"] + [
        "--api-url",
        "http://127.0.0.1:9",
    ]
    assert "--api-url" not in retrain_argv(RetrainJob("month_003", api_url="http://127.0.0.1:9"))


def test_once_retrain_runs_the_given_command(tmp_path):
    """--once --drift … --retrain --retrain-cmd: the pipeline's decision is the JSON's retrain block."""
    body = f"import json, sys\ndoc = {DECISION!r}\ndoc['data']['source'] = sys.argv[2]\nprint(json.dumps(doc))\n"
    with running_api() as api:
        done = subprocess.run(
            [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", api, "--window", "0"]
            + ["--drift", "month_000", "month_003", "--retrain", "--retrain-cmd", pipeline(tmp_path, body)],
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert done.returncode == 0, done.stderr
    retrain = json.loads(done.stdout)["retrain"]
    assert retrain["decision"] == "KEPT" and retrain["data"]["source"] == "month_003" and retrain["serving"] == "v1"
