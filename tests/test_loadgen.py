"""The load generator against the bundled API and purpose-built failing, slow and closing servers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import httpx
import pytest
from conftest import free_port, running_api
from fake_targets import Reply, closing_target, fake_target, stalling_target
from metrics_text import samples, total, value
from waiting import wait_until

from loadgen import LoadConfig, LoadConfigError, LoadRunner
from loadgen.processes import run_processes

ACHIEVED_WINDOW_S = 2  # a running load's achieved_rps: the last two full seconds (LoadStats.snapshot)


def assert_accounting(s) -> None:
    assert s.sent == s.ok + s.errors + s.cancelled, s


@pytest.fixture(scope="module")
def api():
    with running_api() as url:
        yield url


def test_open_model_keeps_its_rate(api):
    s = LoadRunner(LoadConfig(url=api + "/predict", rate=200, duration=3)).start().wait()
    assert_accounting(s)
    assert s.sent == pytest.approx(600, abs=2) and s.ok == s.sent
    assert s.send_rate == pytest.approx(200, rel=0.02)
    assert s.not_sent == 0 and not s.fell_behind
    assert all(s.corrected[k] >= s.uncorrected[k] * 0.99 for k in s.corrected)


def test_closed_model_and_request_bound(api):
    s = LoadRunner(LoadConfig(url=api + "/predict", concurrency=4, requests=123, duration=30)).start().wait()
    assert_accounting(s)
    assert s.sent == 123 and s.ok == 123 and s.status_codes == {"200": 123}


def achieved_since(runner, elapsed_s: float) -> float | None:
    """The live achieved rate once its window (the last two full seconds of the run) starts at or after
    ``elapsed_s`` into the run: a rate of one setting only, not a mix of the old one and the new."""
    window_start = math.ceil(elapsed_s)

    def window_after_it():
        snap = runner.snapshot()
        return snap if int(snap.elapsed_s) - ACHIEVED_WINDOW_S >= window_start else None

    snap = wait_until(
        window_after_it,
        ACHIEVED_WINDOW_S + 10,
        f"two full seconds of the run after {elapsed_s:.2f} s",
        seen=lambda: runner.snapshot().elapsed_s,
    )
    return snap.achieved_rps


def test_rate_and_concurrency_change_while_running(api):
    runner = LoadRunner(LoadConfig(url=api + "/predict", rate=50, duration=30)).start()
    slow = achieved_since(runner, 0.0)
    changed_at = runner.snapshot().elapsed_s
    runner.set_rate(300)
    fast = achieved_since(runner, changed_at)
    s = runner.stop()
    assert_accounting(s)
    assert slow == pytest.approx(50, rel=0.2) and fast == pytest.approx(300, rel=0.2)
    with pytest.raises(ValueError):
        runner.set_concurrency(3)

    runner = LoadRunner(LoadConfig(url=api + "/health", concurrency=1, duration=30, payload="none")).start()
    wait_until(lambda: runner.snapshot().ok >= 50, 20, "50 answers with one worker", seen=runner.snapshot)
    runner.set_concurrency(8)
    before = runner.snapshot().ok
    wait_until(
        lambda: runner.snapshot().ok >= before + 100, 20, "100 more answers with 8 workers", seen=runner.snapshot
    )
    s = runner.stop()
    assert_accounting(s)
    assert s.concurrency == 8 and s.ok >= before + 100


def test_workers_follow_the_concurrency_down_and_up_again():
    with fake_target() as t:
        t.reply = Reply(delay=0.3, body=b"{}")
        runner = LoadRunner(LoadConfig(url=t.url + "/x", concurrency=2, duration=30, payload="none", timeout=5)).start()
        for n in (2, 8, 3, 6):
            runner.set_concurrency(n)
            # Every worker is waiting on a 0.3 s answer most of the time: n of them in flight at once.
            wait_until(
                lambda n=n: runner.snapshot().in_flight == n,
                10,
                f"{n} requests in flight",
                seen=lambda: runner.snapshot().in_flight,
            )
        s = runner.stop()
    assert_accounting(s)


def test_ramp_up_starts_slow(api):
    runner = LoadRunner(LoadConfig(url=api + "/predict", rate=400, duration=3, ramp_up=2)).start()
    runner.wait()
    rows = runner.stats.timeline_rows()
    sent = [r["sent"] for r in rows]
    assert sent[0] < 0.5 * sent[2]
    assert sum(sent) == pytest.approx(400 * 2, rel=0.1)  # a 2 s ramp sends half of 2 s at full rate


def test_stop_is_fast_and_accounts_for_everything():
    with fake_target() as t:
        t.reply = Reply(delay=5, body=b"{}")
        runner = LoadRunner(
            LoadConfig(url=t.url + "/slow", concurrency=8, duration=60, payload="none", timeout=30)
        ).start()
        wait_until(lambda: runner.snapshot().in_flight == 8, 10, "8 requests waiting on the slow answer")
        started = time.perf_counter()
        s = runner.stop()
        assert time.perf_counter() - started < 1.0
    assert_accounting(s)
    assert s.cancelled == 8 and not s.running


@pytest.mark.parametrize(
    "make, kind",
    [
        (lambda t: Reply(status=500, body=b"no"), "http_5xx"),
        (lambda t: Reply(status=404, body=b"no"), "http_4xx"),
        (lambda t: Reply(delay=2, body=b"{}"), "timeout"),
    ],
)
def test_errors_are_classified(make, kind):
    with fake_target() as t:
        t.reply = make(t)
        s = (
            LoadRunner(LoadConfig(url=t.url + "/x", concurrency=2, duration=1.2, payload="none", timeout=0.5))
            .start()
            .wait()
        )
    assert_accounting(s)
    assert s.errors > 0 and s.ok == 0 and set(s.error_kinds) == {kind}


def test_refused_and_reset_connections():
    s = (
        LoadRunner(
            LoadConfig(url=f"http://127.0.0.1:{free_port()}/", concurrency=2, requests=20, duration=5, payload="none")
        )
        .start()
        .wait()
    )
    assert_accounting(s)
    assert s.error_kinds == {"connect_refused": 20}
    with closing_target() as url:
        s = LoadRunner(LoadConfig(url=url + "/", concurrency=2, requests=20, duration=5, payload="none")).start().wait()
    assert_accounting(s)
    assert s.errors == 20 and set(s.error_kinds) <= {"reset", "other"} and "reset" in s.error_kinds


def test_a_stall_raises_corrected_latency_far_more_than_uncorrected():
    # One connection (max in flight 1): while the server stalls for 1 s the schedule cannot send,
    # which is exactly what coordinated omission hides.
    with stalling_target(stall_on=50, stall_s=1.0) as url:
        s = LoadRunner(LoadConfig(url=url, rate=100, duration=3, max_in_flight=1, payload="user_id")).start().wait()
    assert_accounting(s)
    assert s.uncorrected["p90"] < 0.05
    assert s.corrected["p90"] > 10 * s.uncorrected["p90"]
    assert s.corrected["p99"] > 0.5
    assert s.late >= 50 and s.fell_behind


def test_a_target_that_cannot_keep_up_is_reported_and_bounded():
    with fake_target() as t:
        t.reply = Reply(delay=0.5, body=b"{}")
        s = (
            LoadRunner(LoadConfig(url=t.url + "/x", rate=500, duration=2, max_in_flight=20, payload="none", timeout=5))
            .start()
            .wait()
        )
    assert_accounting(s)
    assert s.fell_behind and s.not_sent > 500
    assert s.sent <= 20 * (2 / 0.5 + 2)  # in-flight cap bounds what was sent


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"url": "ftp://x/y", "rate": 1, "duration": 1}, "http(s) URL"),
        ({"url": "http:///nohost", "rate": 1, "duration": 1}, "http(s) URL"),
        ({"url": "http://h/", "rate": 0, "duration": 1}, "positive"),
        ({"url": "http://h/", "rate": 1, "concurrency": 2, "duration": 1}, "exactly one"),
        ({"url": "http://h/", "rate": 1}, "must stop by itself"),
        ({"url": "http://h/", "concurrency": 2, "duration": 1, "ramp_up": 2}, "open model"),
    ],
)
def test_invalid_configs_are_refused(kwargs, words):
    with pytest.raises(LoadConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        LoadConfig(**kwargs)


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loadgen.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--url", "ftp://x"], "http(s) URL"),
        (["--rate", "-5"], "positive"),
        (["--rate", "5", "-c", "2"], "not allowed"),
        (["--month", "month_099"], "unknown month"),
        (["--ramp-up", "3"], "open model"),
        (["--processes", "0"], "at least 1"),
    ],
)
def test_cli_usage_errors(args, words):
    proc = _cli(*args)
    assert proc.returncode == 2 and words in proc.stderr


def test_cli_replays_drifted_features_and_the_api_counts_every_request(api):
    proc = _cli(
        "--url", api, "--rate", "200", "--duration", "3", "--month", "month_003", "--payload", "features", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema"] == "streamflow.load/1" and report["target"]["payload"] == "features"
    t = report["totals"]
    assert t["sent"] == t["ok"] + t["errors"] + t["cancelled"] and t["ok"] == pytest.approx(600, abs=2)
    assert report["send_rate"] == pytest.approx(200, rel=0.02)
    for key in ("corrected", "uncorrected"):
        assert set(report["latency_seconds"][key]) == {
            "fastest",
            "slowest",
            "average",
            "stddev",
            "p50",
            "p90",
            "p95",
            "p99",
            "p99_9",
        }
    assert sum(h["count"] for h in report["histogram"]) == t["ok"] + t["errors"]
    assert sum(r["sent"] for r in report["timeline"]) == t["sent"]
    m = samples(httpx.get(api + "/metrics").text)
    # Every request of this module's tests reached /predict; this run's are the features ones.
    assert value(m, "api_request_latency_seconds_count", endpoint="/predict") >= t["ok"] + t["errors"]


def test_cli_text_report_and_exit_1_when_nothing_succeeds():
    proc = _cli("--url", f"http://127.0.0.1:{free_port()}", "-n", "5", "-c", "1")
    assert proc.returncode == 1
    assert "connect_refused: 5" in proc.stdout and "5 sent = 0 ok + 5 errors + 0 cancelled" in proc.stdout


def test_processes_merge_their_histograms(api):
    stats = run_processes(LoadConfig(url=api + "/predict", concurrency=4, requests=200, duration=30), 2)
    s = stats.snapshot()
    assert_accounting(s)
    assert s.sent == 200 and s.ok == 200
    assert stats.corrected.get_total_count() == 200


def test_a_dead_api_is_not_throughput():
    """Refused connections are errors with their own count, not answers: achieved 0, no latencies."""
    s = (
        LoadRunner(LoadConfig(url=f"http://127.0.0.1:{free_port()}/predict", rate=200, duration=1.5, payload="none"))
        .start()
        .wait()
    )
    assert_accounting(s)
    assert s.errors == s.sent == s.no_answer > 200
    assert s.achieved_rps == 0
    assert s.corrected["p50"] is None and s.uncorrected["p50"] is None
    live = LoadRunner(
        LoadConfig(url=f"http://127.0.0.1:{free_port()}/predict", rate=200, duration=3, payload="none")
    ).start()
    try:
        assert achieved_since(live, 0.0) == 0  # two full seconds of refused connections
    finally:
        live.stop()


def test_http_errors_are_answers():
    with fake_target() as t:
        t.reply = Reply(status=503, body=b"busy")
        s = (
            LoadRunner(LoadConfig(url=t.url + "/", concurrency=2, requests=30, duration=5, payload="none"))
            .start()
            .wait()
        )
    assert s.errors == 30 and s.no_answer == 0 and s.achieved_rps > 0 and s.corrected["p50"] is not None


def test_ctrl_c_still_reports_every_request(api):
    import signal

    def predictions() -> float:
        return total(samples(httpx.get(api + "/metrics").text), "api_requests_total", endpoint="/predict")

    served = predictions()  # the module's API has served the earlier tests too
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadgen.cli",
            "--url",
            api,
            "--rate",
            "300",
            "--duration",
            "30",
            "--json",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: predictions() >= served + 100, 60, "the API answered 100 of the run's requests")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    t = json.loads(out)["totals"]
    assert t["sent"] == t["ok"] + t["errors"] + t["cancelled"] and t["sent"] > 100


def test_a_run_of_mostly_unknown_ids_warns():
    from loadgen import report

    with fake_target() as t:
        t.reply = Reply(status=404, body=b'{"detail": "unknown user_id"}', content_type="application/json")
        config = LoadConfig(url=t.url + "/predict", concurrency=2, requests=20, duration=5, month="month_000")
        runner = LoadRunner(config).start()
        runner.wait()
    result = report.build(config, runner.stats)
    assert any("404" in w and "month_000" in w for w in result["warnings"])
    assert "! " in report.render(result)
