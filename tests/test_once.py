"""``streamflow-tui --once``: the JSON contract, the text table, exit codes, the embedded default."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest
from conftest import free_port, running_api
from fake_targets import Reply, fake_target

from streamflow_data.buckets import LATENCY_BUCKETS

TOP_KEYS = [
    "schema",
    "taken_at",
    "source",
    "api",
    "prometheus",
    "window_seconds",
    "scrape_interval_seconds",
    "requests",
    "latency_seconds",
    "latency_histogram",
    "model",
    "slo",
    "performance",
    "drift",
    "naming",
    "latency_bounds_seconds",
    "counter_updates",
    "remote_load",
    "llm",
]


def once(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def api():
    with running_api() as url:
        with httpx.Client(base_url=url) as c:
            for _ in range(20):
                c.post("/predict", json={"user_id": "0000-NOONE"})
        yield url


def test_json_is_exactly_the_snapshot_schema(api):
    proc = once("--api-url", api, "--window", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == TOP_KEYS
    assert doc["schema"] == "streamflow.snapshot/1" and doc["source"] == "scrape"
    assert doc["api"] == {"url": api, "up": True, "error": None}
    assert doc["prometheus"] == {"url": None, "up": None, "error": None}
    assert 0.5 <= doc["window_seconds"] < 1.5
    assert set(doc["requests"]) == {"total", "rps", "error_ratio", "by_series"}
    row = next(x for x in doc["requests"]["by_series"] if x["code"] == "404")
    assert row == {"endpoint": "/predict", "status": "error", "code": "404", "total": 20.0, "rps": 0.0}
    assert set(doc["latency_seconds"]) == {"avg", "p50", "p95", "p99", "max"}
    # The histogram is the window's: the API's buckets, and no request in them (the 20 predictions came
    # before the window, and the two scrapes of /metrics inside it are monitoring, left out).
    assert [b["le"] for b in doc["latency_histogram"]] == [*LATENCY_BUCKETS, "+Inf"]
    assert [b["count"] for b in doc["latency_histogram"]] == [0.0] * (len(LATENCY_BUCKETS) + 1)
    assert doc["model"]["served_month"] == "month_005" and doc["model"]["version"].startswith("month_000-")
    assert doc["slo"] is None and doc["drift"] is None


def test_text_table(api):
    proc = once("--api-url", api, "--window", "0")
    assert proc.returncode == 0
    out = proc.stdout
    assert "source scrape" in out and f"{api}  UP" in out
    assert "/predict" in out and "404" in out and "rate –/s" in out  # no rate without a window


def test_unreachable_target_exit_1_and_json_says_why():
    url = f"http://127.0.0.1:{free_port()}"
    proc = once("--api-url", url, "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["api"]["up"] is False and "connection refused" in doc["api"]["error"]
    assert doc["requests"]["rps"] is None and doc["latency_seconds"]["p95"] is None


def test_unreadable_target_exit_1():
    with fake_target() as t:
        t.reply = Reply(body=b"<html>nope</html>", content_type="text/html")
        proc = once("--api-url", t.url, "--json", "--window", "0")
    assert proc.returncode == 1
    assert "got text/html" in json.loads(proc.stdout)["api"]["error"]


def test_nothing_usable_is_said_not_zeroed():
    with fake_target() as t:
        t.reply = Reply(body=b"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3\n")
        proc = once("--api-url", t.url, "--window", "0")
    assert proc.returncode == 1
    assert "no request counter found" in proc.stdout
    assert "total –" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--window", "-1"],
        ["--window", "nan"],
        ["--slo-error-ratio", "2"],
        ["--requests-metric", "bad name"],
        ["--prometheus-url", "http://127.0.0.1:9", "--window", "0"],
        ["--bogus"],
    ],
)
def test_usage_errors_exit_2(args):
    proc = once(*args, "--api-url", "http://127.0.0.1:9")
    assert proc.returncode == 2
    assert proc.stderr.strip()


def test_slo_breach_exit_4(api):
    proc = once("--api-url", api, "--window", "0", "--json", "--slo-error-ratio", "0.1", "--slo-p95", "10")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 4
    assert doc["slo"]["error_ratio"]["breached"] is True and doc["slo"]["error_ratio"]["limit"] == 0.1
    assert doc["slo"]["p95"]["breached"] is False
    ok = once("--api-url", api, "--window", "0", "--slo-error-ratio", "1")
    assert ok.returncode == 0 and "slo error_ratio" in ok.stdout


def test_prometheus_unreachable_exit_1():
    proc = once("--prometheus-url", f"http://127.0.0.1:{free_port()}", "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["source"] == "prometheus" and doc["prometheus"]["up"] is False


def test_embedded_default_starts_and_stops_the_bundled_api():
    proc = once("--json", "--window", "0.2")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    url = doc["api"]["url"]
    assert url.startswith("http://127.0.0.1:") and doc["api"]["up"] is True
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health")  # stopped on exit


def test_once_imports_neither_pandas_textual_nor_evidently(api):
    code = (
        "import sys; from streamflow_tui import cli;"
        f"rc = cli.main(['--once', '--api-url', {api!r}, '--window', '0', '--json']);"
        "bad = [m for m in ('pandas', 'textual', 'evidently', 'sklearn') if m in sys.modules];"
        "print('HEAVY', bad, file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "HEAVY []" in proc.stderr


DRIFT_KEYS = [
    "reference",
    "current",
    "drift_share",
    "drifted_columns",
    "total_columns",
    "threshold",
    "decision",
    "target_drift",
    "report_html",
    "report_json",
    "columns",
]


def test_drift_json_text_and_exit_3(api, tmp_path):
    proc = once(
        "--api-url", api, "--window", "0", "--json", "--drift", "month_000", "month_003", "--reports-dir", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    drift = json.loads(proc.stdout)["drift"]
    assert list(drift) == DRIFT_KEYS
    assert drift["decision"] == "RETRAINING_TRIGGERED" and drift["threshold"] == 0.3
    assert drift["drifted_columns"] == 8 and drift["total_columns"] == 15
    assert set(drift["columns"][0]) == {"column", "type", "stattest", "score", "threshold", "drifted"}
    assert [c["drifted"] for c in drift["columns"]] == sorted((c["drifted"] for c in drift["columns"]), reverse=True)
    assert re.search(r"drift_2024-01-31_vs_2024-04-30_\d{8}T\d{6}Z-[0-9a-f]{6}\.html$", drift["report_html"])

    failing = once(
        "--api-url",
        api,
        "--window",
        "0",
        "--drift",
        "month_000",
        "month_003",
        "--fail-on-drift",
        "--reports-dir",
        str(tmp_path),
    )
    assert failing.returncode == 3
    text = failing.stdout
    assert "RETRAINING_TRIGGERED" in text and "8/15 columns drifted" in text
    table = text[text.index("column") :]
    assert table.index("monthly_fee") < table.index("months_active")  # drifted rows first
    calm = once(
        "--api-url",
        api,
        "--window",
        "0",
        "--drift",
        "month_000",
        "month_001",
        "--fail-on-drift",
        "--reports-dir",
        str(tmp_path),
    )
    assert calm.returncode == 0 and "NO_ACTION" in calm.stdout


def test_drift_errors_exit_1_with_the_reason(api, tmp_path):
    proc = once(
        "--api-url", api, "--window", "0", "--json", "--drift", "month_000", "month_042", "--reports-dir", str(tmp_path)
    )
    assert proc.returncode == 1
    assert "unknown month 'month_042'" in proc.stderr
    assert "unknown month 'month_042'" in json.loads(proc.stdout)["drift"]["error"]  # the reason, not just null
    assert list(tmp_path.iterdir()) == []


def test_evidently_stays_out_of_the_console_process(api, tmp_path):
    code = (
        "import sys; from streamflow_tui import cli;"
        f"rc = cli.main(['--once', '--api-url', {api!r}, '--window', '0', '--drift', 'month_000', 'month_001',"
        f" '--reports-dir', {str(tmp_path)!r}]);"
        "print('HEAVY', [m for m in ('evidently', 'pandas') if m in sys.modules], file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr
