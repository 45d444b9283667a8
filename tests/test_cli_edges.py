"""The command line's edges, as a script or a user meets them: a closed pipe, a bad number, a usage error, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import free_port


def tui(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


CLOSED_PIPE_COMMANDS = {
    "tui": ["streamflow_tui.cli", "--once", "--json", "--api-url", "http://127.0.0.1:{port}"],
    # Nothing to roll back to in an empty registry: the error's JSON document still goes to stdout.
    "retrain": ["api.retrain_cli", "--rollback", "--cache-dir", "{tmp}"],
    "load": ["loadgen.cli", "--url", "http://127.0.0.1:{port}", "--requests", "3", "--payload", "none", "--json"],
}


@pytest.mark.parametrize("program", list(CLOSED_PIPE_COMMANDS))
def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status(program, tmp_path):
    """``… --json | head``: the reader has gone; exit as Unix tools do (128 + SIGPIPE), no traceback."""
    argv = [a.format(port=free_port(), tmp=tmp_path) for a in CLOSED_PIPE_COMMANDS[program]]
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", *argv], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr


def test_a_bad_number_is_named_plainly():
    proc = tui("--once", "--slo-p95", "abc")
    assert proc.returncode == 2
    assert "_positive_float" not in proc.stderr
    assert "argument --slo-p95: expected a finite number >= 0, got 'abc'" in proc.stderr


def test_one_flag_applies_several_apply():
    one = tui("--once", "--interval", "2")
    assert one.returncode == 2 and "--interval only applies to the console, not to --once" in one.stderr
    two = tui("--once", "--interval", "2", "--history", "700")
    assert two.returncode == 2 and "--interval, --history only apply to the console" in two.stderr


def test_a_usage_error_is_one_usage_line_and_the_reason():
    proc = tui("--once", "--interval", "2")
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2
    assert lines == [
        "usage: streamflow-tui [options]  (streamflow-tui --help lists them)",
        "streamflow-tui: error: --interval only applies to the console, not to --once",
    ]
    unknown = tui("--bogus")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 2
    assert "unrecognized arguments: --bogus" in unknown.stderr


def test_retrain_help_says_the_whole_description():
    proc = subprocess.run(
        [sys.executable, "-m", "api.retrain_cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert (
        "Train a challenger on newer labelled rows, compare it with the champion on the same held-out rows,"
        " promote it or keep the champion, and print the decision as JSON." in text
    )


def test_fewer_requests_than_workers_end_against_a_refused_port():
    """``--requests 3`` with 8 workers against a port nothing listens on: three refused requests, counted, and
    the run ends. The closed model made workers for ever once the three were claimed (it ran until killed)."""
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "--url", f"http://127.0.0.1:{free_port()}", "--requests", "3"]
        + ["--concurrency", "8", "--payload", "none", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(proc.stdout)
    assert report["totals"]["sent"] == 3 and report["totals"]["errors"] == 3, report["totals"]
    assert proc.returncode != 0, "every request failed: the run says so in its status"


CRASHING_CONSOLE = """
import sys
from streamflow_tui.widgets.rate_chart import RateChart

def render_line(self, y):  # a fault in a widget, as Textual's opacity filter raised under a dimmed view
    raise RuntimeError("injected fault while painting the requests/s chart")

RateChart.render_line = render_line
from streamflow_tui.cli import main
sys.exit(main())
"""


def test_a_console_that_crashes_exits_1_not_0(tmp_path):
    """#27 item 4: ``streamflow-tui … </dev/null | tail`` crashed with a traceback and exit status 0, so a script
    or a supervisor took the crash for a quit. The console is run as there (stdin from /dev/null, stdout a pipe),
    with a fault in a widget's painting: Textual prints the traceback, the status is 1."""
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_CONSOLE, "--api-url", f"http://127.0.0.1:{free_port()}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80", "LINES": "24"},
    )
    assert "injected fault" in proc.stdout + proc.stderr, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
