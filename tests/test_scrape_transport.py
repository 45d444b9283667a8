"""How a scrape reads bodies in the field: compressed, huge, dripping, cut short, malformed.

Every bad answer is a clear error in bounded time and memory, and nothing is
shown as a measurement.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import tracemalloc
import zlib

import pytest
from fake_targets import Reply, fake_target
from waiting import wait_until

from streamflow_tui.core.decoding import BodyDecoder, DecodeError
from streamflow_tui.core.scrape import ScrapeSource

BODY = b"""# HELP api_requests_total requests
# TYPE api_requests_total counter
api_requests_total{endpoint="/predict",status="success",code="200"} 7
# TYPE api_request_latency_seconds histogram
api_request_latency_seconds_bucket{endpoint="/predict",le="0.01"} 7
api_request_latency_seconds_bucket{endpoint="/predict",le="+Inf"} 7
api_request_latency_seconds_sum{endpoint="/predict"} 0.02
api_request_latency_seconds_count{endpoint="/predict"} 7
"""


def poll(reply: Reply, **kwargs):
    with fake_target() as t:
        t.reply = reply
        source = ScrapeSource(t.url, **kwargs)
        try:
            start = time.monotonic()
            status = source.poll()
            return status, source.snapshot(0), time.monotonic() - start
        finally:
            source.close()


def deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    "body, encoding",
    [
        (gzip.compress(BODY), "gzip"),
        (zlib.compress(BODY), "deflate"),  # RFC 9110 deflate: zlib-wrapped
        (deflate_raw(BODY), "deflate"),  # what some servers send as deflate
        (BODY, "identity"),
        (gzip.compress(BODY), "x-gzip"),
    ],
)
def test_compressed_bodies_are_decoded(body, encoding):
    status, snap, _ = poll(Reply(body=body, headers={"Content-Encoding": encoding}))
    assert status.up and status.error is None, status.error
    assert snap.requests.total == 7


def test_the_scrape_asks_only_for_encodings_it_can_decode():
    with fake_target() as t:
        t.reply = Reply(body=BODY)
        source = ScrapeSource(t.url)
        source.poll()
        source.close()
    assert t.request_headers[0]["accept-encoding"] == "gzip, deflate"  # never br/zstd: no capped decoder for them


def test_a_gzip_bomb_is_too_large_in_bounded_time_and_memory():
    # 1 GiB of zeros compresses to ~1 MiB; the cap is on what it decodes to.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 * 1024 * 1024
    tracemalloc.start()
    status, snap, seconds = poll(Reply(body=bomb, headers={"Content-Encoding": "gzip"}), max_bytes=4 * 1024 * 1024)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert status.up is False and "decodes to more than the 4,194,304-byte cap" in status.error
    assert seconds < 2.0
    assert peak < 40 * 1024 * 1024  # the bomb's 1 GiB never lands in memory
    assert snap.requests.total is None and snap.requests.rps is None


def test_a_body_that_is_not_what_its_encoding_says():
    status, snap, _ = poll(Reply(body=BODY, headers={"Content-Encoding": "gzip"}))
    assert status.up is False and "declared Content-Encoding gzip but is not valid gzip" in status.error
    assert snap.requests.total is None
    status, _, _ = poll(Reply(body=gzip.compress(BODY), headers={"Content-Encoding": "br"}))
    assert status.up is False and "unsupported Content-Encoding br" in status.error


def test_a_truncated_gzip_stream():
    cut = gzip.compress(BODY)[:-12]
    status, snap, _ = poll(Reply(body=cut, headers={"Content-Encoding": "gzip"}))
    assert status.up is False and "ends before its end marker" in status.error
    assert snap.requests.total is None


def test_garbage_after_the_gzip_stream():
    status, _, _ = poll(Reply(body=gzip.compress(BODY) + b"trailing junk", headers={"Content-Encoding": "gzip"}))
    assert status.up is False and "garbage after the end of the gzip stream" in status.error


def test_a_dripping_target_fails_within_the_timeout():
    # One byte every 0.5 s: every read succeeds, only a deadline on the whole answer stops it.
    status, snap, seconds = poll(Reply(body=BODY, drip_s=0.5), timeout=2.0)
    assert status.up is False and "within 2 s" in status.error and "bytes of the body" in status.error
    assert 1.9 < seconds < 2.6
    assert snap.requests.total is None


def test_a_target_that_resets_mid_body():
    status, snap, _ = poll(Reply(body=BODY, reset_after=40))
    assert status.up is False
    assert "mid-answer" in status.error or "reset" in status.error.lower()
    assert snap.requests.total is None


def test_garbage_is_a_parse_error_not_zeros():
    status, snap, _ = poll(Reply(body=b"\x89PNG\r\n\x1a\n" + bytes(range(256))))
    assert status.up is False and "not UTF-8" in status.error
    status, snap, _ = poll(Reply(body=b"this is { not } metrics\n"))
    assert status.up is False and "could not parse" in status.error
    assert snap.requests.total is None


def test_a_histogram_without_its_inf_bucket_is_reported():
    broken = BODY.replace(b'api_request_latency_seconds_bucket{endpoint="/predict",le="+Inf"} 7\n', b"")
    status, snap, _ = poll(Reply(body=broken))
    assert status.error and "no +Inf bucket" in status.error
    assert snap.latency.p50 is None and snap.latency.p95 is None


def test_two_candidate_families_the_choice_is_said():
    both = b"""# TYPE app_requests_total counter
app_requests_total{path="/a",code="200"} 5
# TYPE http_requests_total counter
http_requests_total{handler="/b",code="200"} 9
"""
    status, snap, _ = poll(Reply(body=both))
    assert status.up and status.error is None
    # The http_* convention wins and the note says what was read.
    assert snap.metrics.requests_metrics == ("http_requests_total",)
    assert "requests: http_requests_total" in snap.metrics.note and snap.requests.total == 9


def test_decoder_caps_each_layer_and_keeps_nothing_past_the_cap():
    decoder = BodyDecoder("gzip", max_bytes=1000)
    with pytest.raises(DecodeError) as info:
        decoder.feed(gzip.compress(bytes(5000)))
    assert info.value.kind == "too_large"
    assert decoder.size == 0


def test_once_with_a_dripping_target_exits_1_within_the_timeout():
    with fake_target() as t:
        t.reply = Reply(body=BODY, drip_s=0.5)
        start = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamflow_tui.cli",
                "--once",
                "--json",
                "--window",
                "0",
                "--timeout",
                "1.5",
                "--api-url",
                t.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - start
    assert done.returncode == 1
    assert '"up": false' in done.stdout and "within 1.5 s" in done.stdout
    assert elapsed < 15  # interpreter start-up included; the scrape itself is bounded by --timeout


def test_closing_the_source_mid_scrape_ends_the_scrape_at_once():
    """The console closes its source when it quits; a poll in flight must end then, not wait on a stopped
    loop forever (it did: the app's worker thread hung, and with it the test run's teardown)."""
    import threading

    with fake_target() as t:
        t.reply = Reply(body=BODY, drip_s=0.5)  # a scrape that would take ~100 s
        source = ScrapeSource(t.url, timeout=60.0)
        outcome: list = []
        worker = threading.Thread(target=lambda: outcome.append(source.poll()))
        worker.start()
        wait_until(lambda: t.requests, 10, "the scrape reached the target")  # in flight: its body is dripping
        start = time.monotonic()
        source.close()
        worker.join(10)
        assert not worker.is_alive() and time.monotonic() - start < 5
    assert outcome and outcome[0].up is False and "source is closing" in outcome[0].error
