"""The command line's edges, as a script or a user meets them: a closed pipe, a bad number, a usage error, --help."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import free_port


def tui(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status():
    """``--once --json | head``: the reader has gone; exit as Unix tools do (128 + SIGPIPE), no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte is written
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamflow_tui.cli",
                "--once",
                "--json",
                "--api-url",
                f"http://127.0.0.1:{free_port()}",
            ],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""


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
