"""The asyncio engine and the thread that runs it for callers.

Open model: requests go out on a fixed schedule of intended times (wrk2's
constant throughput); latency is measured from the intended time (corrected,
free of coordinated omission) and from the actual send (uncorrected). When
``max_in_flight`` requests are outstanding the schedule waits for a slot, so a
slow target shows up as late sends and higher corrected latency, and whatever
was scheduled but never sent by the end is counted as ``not_sent``.

The open model runs on loop timers and connection callbacks (``_OpenSender``), with no task per
request: each wake sends every request due within the timer's granularity, up to ``EARLY_S`` before its
intended time (a request sent early is measured from its actual send, so its latency is not flattered),
then sleeps until the next is due.

Closed model: ``concurrency`` workers send back to back.

Segments (``segment_index`` of ``segment_count``): the open model sends every
N-th request of the whole run's schedule (the union of the segments is that
schedule, with no bursts at the joins), the closed model runs its share of the
workers; each segment sends its own slice of the payload rows.
"""

from __future__ import annotations

import asyncio
import math
import time

from .config import LoadConfig
from .payloads import bodies, labels
from .schedule import Schedule, payload_slice
from .stats import LoadStats
from .stream import StreamMode
from .transport import Client, ConnectError, Pending, ResponseError, request_bytes

STOP_GRACE_S = 0.5  # after a stop, in-flight requests get this long before they are cancelled
# uvloop's timers tick in whole milliseconds, and a delay under half of one runs at once: waiting for a
# request due in 0.4 ms would spin the loop. So a wake sends what is due within this, and sleeps at least it.
EARLY_S = 0.001
CONTENT_TYPE = "application/json"


def classify(exc: BaseException) -> str:
    kind = getattr(exc, "kind", None)  # sse.StreamError: not_sse, stream_cut, stream_error
    if isinstance(kind, str):
        return kind
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectError):
        return "connect_refused" if exc.refused else "connect_error"
    if isinstance(exc, ConnectionError):
        return "reset"
    if isinstance(exc, ResponseError):
        return "bad_response"
    return "other"


def outcome(status: int | None, exc: BaseException | None) -> str | None:
    """The error kind of a finished request, None for a success."""
    if exc is not None:
        return classify(exc)
    assert status is not None, "a request that raised nothing has a status"
    return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else None


class _Engine:
    def __init__(self, config: LoadConfig, stats: LoadStats, loop: asyncio.AbstractEventLoop):
        self.config = config
        self.stats = stats
        self.loop = loop  # the loop that runs run(): every callback is scheduled on it
        # --stream: prompts, a client that reads token events, a record per stream (loadgen/stream.py)
        self.stream = StreamMode(config, stats, loop) if config.stream is not None else None
        self.requests = [
            request_bytes(config.url, config.method, body, CONTENT_TYPE)
            for body in payload_slice(self._bodies(), config)
        ]
        self.feedback = None
        if config.feedback_delay is not None:
            from .feedback import FeedbackSender

            self.feedback = FeedbackSender(
                config.url,
                payload_slice(labels(config.month, seed=config.seed), config),
                delay=config.feedback_delay,
                fraction=config.feedback_fraction,
                seed=config.seed,
            )
        self.rate = config.rate  # the whole run's (a segment sends its share of the schedule)
        self.concurrency = config.segment_concurrency  # this segment's workers
        self.request_limit = config.segment_requests
        self.schedule: Schedule | None = None
        self.stop_event = asyncio.Event()
        self.started = 0  # requests started, for the --requests bound
        self.sender: _OpenSender | None = None  # open model
        self.workers: list[_ClosedWorker] = []  # closed model
        self.active_workers = 0

    def _bodies(self) -> list[bytes]:
        """The request bodies, before this segment takes its slice (``--stream``: the prompts)."""
        if self.stream is not None:
            return self.stream.bodies()
        return bodies(self.config.month, self.config.payload, seed=self.config.seed)

    def _client(self) -> Client:
        if self.stream is not None:
            return self.stream.client()
        # Connections are bounded by the requests in flight: max_in_flight (open) or the workers (closed).
        return Client(
            self.config.url,
            self.config.timeout,
            self.loop,
            on_retry=self.stats.on_retry,
            keep_body=self.feedback is not None,  # a label joins the prediction id of its answer
        )

    def _claim(self) -> bool:
        if self.request_limit is not None and self.started >= self.request_limit:
            return False
        self.started += 1
        return True

    def _row(self) -> int:
        """The payload row of the request just claimed."""
        return self.started % len(self.requests)

    def _record(
        self,
        intended: float | None,
        sent_at: float,
        status: int | None,
        exc: BaseException | None,
        index: int,
        *,
        defer: bool,
        body: bytes = b"",
    ) -> None:
        """Count one finished request. ``defer`` (closed model): after this event-loop step, so the worker's
        next request is on the wire first: bookkeeping on the turnaround path makes a closed-model client
        miss the server's next event-loop round. call_soon keeps records in order, so a snapshot never sees
        a request done before it was sent. The open model has nothing to send at that point: it counts now."""
        if self.stream is not None:  # the stream's own numbers; a stream cut after its head is an answer
            status, exc = self.stream.record(intended, sent_at, status, exc, defer=defer)
        done_at = time.perf_counter()
        error = outcome(status, exc)
        if defer:
            self.loop.call_soon(self.stats.on_done, intended, sent_at, done_at, status, error)
        else:
            self.stats.on_done(intended, sent_at, done_at, status, error)
        if self.feedback is not None and status is not None and status < 300:
            self.loop.call_soon(self.feedback.answered, index, done_at, body)

    def _deadline(self, t0: float) -> float:
        return t0 + self.config.duration if self.config.duration is not None else math.inf

    def _start_time(self) -> float:
        """The schedule's start (perf_counter): now, or the wall-clock ``start_at`` shared by the segments."""
        now = time.perf_counter()
        if self.config.start_at is None:
            return now
        return now + (self.config.start_at - time.time())

    async def _open(self, client: Client, t0: float) -> None:
        assert self.rate is not None, "open model: LoadConfig requires a rate, set_rate keeps one"
        schedule = self.schedule = Schedule(
            self.rate, t0, self.config.ramp_up, self.config.segment_index, self.config.segment_count
        )
        self.sender = _OpenSender(self, client, schedule, self._deadline(t0))
        await self.sender.finished

    def _remaining(self, schedule: Schedule, deadline: float) -> int:
        """How many scheduled requests, from the next one on, fell before the end of the run."""
        n = 0
        limit = self.request_limit - self.started if self.request_limit is not None else 10_000_000
        while schedule.time() < deadline and n < limit:
            n += 1
            schedule.advance()
        return n

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)
            return True
        except TimeoutError:
            return False

    async def _closed(self, client: Client, t0: float) -> None:
        deadline = self._deadline(t0)
        wait = t0 - time.perf_counter()
        if wait > 0 and await self._stopped_within(wait):
            return

        def scale() -> None:
            assert self.concurrency is not None, "closed model: LoadConfig requires a concurrency"
            while self.active_workers < self.concurrency:
                worker = _ClosedWorker(self, client, deadline)
                self.workers.append(worker)
                self.active_workers += 1
                worker.next()
                # A worker that ends at once found nothing to claim (the request limit, the deadline, a stop):
                # nor would the next one, and this loop would make them for ever (--requests 3 against a
                # refused port spun here, its list of workers growing until the OOM killer came).
                if worker.finished.done():
                    break

        self._scale = scale
        scale()
        while not self.stop_event.is_set() and self.active_workers:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            await self._stopped_within(min(0.05, remaining))
            self.workers = [w for w in self.workers if not w.finished.done()]

    def set_concurrency(self, n: int) -> None:
        self.concurrency = n
        self.stats.concurrency = n
        scale = getattr(self, "_scale", None)
        if scale:
            scale()

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self.stats.target_rate = rate
        if self.schedule is not None:
            self.schedule.set_rate(rate)
        if self.sender is not None:
            self.sender.wake()  # it may be asleep until a time the old rate set

    def stop(self) -> None:
        self.stop_event.set()
        if self.sender is not None:
            self.sender.wake()

    async def run(self) -> None:
        t0 = self._start_time()
        self.stats.mark_start(t0, epoch=self.config.start_at)
        client = self._client()
        try:
            if self.config.rate is not None:
                await self._open(client, t0)
            else:
                await self._closed(client, t0)
            await self._drain()
        finally:
            client.close()
            await asyncio.sleep(0)  # lets the last deferred on_done calls run before finish()
        if self.feedback is not None:
            # The last answers' labels are still due: wait out the delay, off the loop.
            await self.loop.run_in_executor(None, self.feedback.close)
            self.stats.feedback = self.feedback.summary()
        self.stats.finish()

    async def _drain(self) -> None:
        """Let in-flight requests finish (bounded by the timeout, or a short grace after a stop), then cancel them."""
        limit = time.perf_counter() + self.config.timeout + 1
        stop = asyncio.ensure_future(self.stop_event.wait())

        def pending() -> set[asyncio.Future]:
            waits = {w.finished for w in self.workers if not w.finished.done()}
            if self.sender is not None and self.sender.in_flight:
                waits.add(self.sender.quiet())
            return waits

        waiting = pending()
        while waiting and not self.stop_event.is_set() and time.perf_counter() < limit:
            await asyncio.wait(
                waiting | {stop}, timeout=limit - time.perf_counter(), return_when=asyncio.FIRST_COMPLETED
            )
            waiting = pending()
        stop.cancel()
        if waiting:
            await asyncio.wait(waiting, timeout=STOP_GRACE_S)
        for worker in self.workers:
            worker.cancel()
        if self.sender is not None:
            self.sender.cancel_in_flight()


class _OpenRequest:
    """One open-model request in flight: what its record needs when the answer (or the error) comes."""

    __slots__ = ("sender", "intended", "sent_at", "index", "pending")

    def __init__(self, sender: _OpenSender, intended: float, sent_at: float, index: int):
        self.sender = sender
        self.intended = intended
        self.sent_at = sent_at
        self.index = index
        self.pending: Pending | None = None

    def done(self, status: int | None, error: BaseException | None) -> None:
        self.sender.answered(self, status, error)


class _OpenSender:
    """The open model's schedule, driven by one loop timer and the connections' callbacks.

    It replaced a task per request plus a ``wait_for`` that slept until the request was due, which at
    2,000 req/s cost 135 µs of client CPU per request against 98 µs now (hey: 141 µs in the same run;
    docs/BENCHMARKS.md, "Client CPU per request"). Part of that was spinning: uvloop runs a sleep under
    0.5 ms at once. Here a wake sends what is due and re-arms; an answer is recorded where it is read. At ``max_in_flight`` outstanding the schedule waits for an answer (the sends go out late, which is
    what the corrected latency and the late count report) or for the end of the run.
    """

    def __init__(self, engine: _Engine, client: Client, schedule: Schedule, deadline: float):
        self.engine = engine
        self.client = client
        self.schedule = schedule
        self.deadline = deadline
        self.limit = engine.config.max_in_flight
        self.in_flight: set[_OpenRequest] = set()
        self.finished: asyncio.Future = engine.loop.create_future()
        self.blocked = False  # at max_in_flight: the next answer resumes the schedule
        self.timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._quiet: asyncio.Future | None = None
        self.tick()

    def tick(self) -> None:
        """Send every request due by now (+ EARLY_S), then sleep until the next one is."""
        self.timer = None
        if self.finished.done():
            return
        e, schedule = self.engine, self.schedule
        if e.stop_event.is_set():
            self._finish()
            return
        while True:
            intended = schedule.time()
            if intended >= self.deadline:
                self._finish()
                return
            now = time.perf_counter()
            if intended > now + EARLY_S:
                self._sleep(intended - EARLY_S - now)
                return
            if len(self.in_flight) >= self.limit:
                self.blocked = True
                if self.deadline != math.inf:
                    self._sleep(self.deadline - now, self._run_out)
                return
            if not e._claim():
                self._finish()
                return
            self._send(intended, now)
            schedule.advance()

    def _send(self, intended: float, sent_at: float) -> None:
        e = self.engine
        index = e._row()
        request = _OpenRequest(self, intended, sent_at, index)
        self.in_flight.add(request)
        request.pending = self.client.submit(e.requests[index], request.done)
        e.stats.on_send(sent_at, intended)  # after the write; an answer is never read within this step

    def answered(self, request: _OpenRequest, status: int | None, exc: BaseException | None) -> None:
        self.in_flight.discard(request)
        body = request.pending.body if request.pending is not None else b""
        self.engine._record(request.intended, request.sent_at, status, exc, request.index, defer=False, body=body)
        if self.blocked:
            self.blocked = False
            self.wake()
        if self._quiet is not None and not self.in_flight and not self._quiet.done():
            self._quiet.set_result(None)

    def _sleep(self, seconds: float, then=None) -> None:
        self.timer = self.engine.loop.call_later(max(seconds, EARLY_S), then or self.tick)

    def _run_out(self) -> None:
        """The run ended while waiting for an in-flight slot: the rest of the schedule was never sent."""
        self.timer = None
        if self.blocked and not self.finished.done():
            self.blocked = False
            self.engine.stats.on_not_sent(self.engine._remaining(self.schedule, self.deadline))
            self._finish()

    def wake(self) -> None:
        """Look at the schedule now (a stop, a new rate or a freed slot)."""
        if self.timer is not None:
            self.timer.cancel()
        self.tick()

    def _finish(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.finished.done():
            self.finished.set_result(None)

    def quiet(self) -> asyncio.Future:
        """Resolves once nothing is in flight."""
        if self._quiet is None:
            self._quiet = self.engine.loop.create_future()
        if not self.in_flight and not self._quiet.done():
            self._quiet.set_result(None)
        return self._quiet

    def cancel_in_flight(self) -> None:
        for request in list(self.in_flight):
            if request.pending is not None:
                request.pending.abort()
            self.engine.stats.on_cancel()
        self.in_flight.clear()


class _ClosedWorker:
    """One closed-model worker, driven from its connection's callbacks (``Client.submit``).

    The next request is written in the same event-loop step that read the
    previous answer, as a Go or C client would: a coroutine per worker costs a
    task switch per request, enough to make the last request of each server
    round miss the next one (measured: p95 at concurrency 16 went from 1.3× to
    ~1.0× hey's, docs/BENCHMARKS.md).
    """

    def __init__(self, engine: _Engine, client: Client, deadline: float):
        self.engine = engine
        self.client = client
        self.deadline = deadline
        self.pending: Pending | None = None
        self.sent_at = 0.0
        self.index = 0
        self.finished: asyncio.Future = engine.loop.create_future()

    def next(self) -> None:
        e = self.engine
        assert e.concurrency is not None, "closed model: LoadConfig requires a concurrency"
        if (
            e.stop_event.is_set()
            or e.active_workers > e.concurrency
            or time.perf_counter() >= self.deadline
            or not e._claim()
        ):
            self._exit()
            return
        self.sent_at, self.index = time.perf_counter(), e._row()
        e.loop.call_soon(e.stats.on_send, self.sent_at, None)  # counted as sent once this step ends
        self.pending = self.client.submit(e.requests[self.index], self._done)

    def _done(self, status: int | None, error: BaseException | None) -> None:
        body = self.pending.body if self.pending is not None else b""
        self.pending = None
        self.engine._record(None, self.sent_at, status, error, self.index, defer=True, body=body)
        self.next()

    def _exit(self) -> None:
        if not self.finished.done():
            self.engine.active_workers -= 1
            self.finished.set_result(None)

    def cancel(self) -> None:
        if self.pending is not None and not self.pending.done:
            self.pending.abort()
            self.pending = None
            self.engine.loop.call_soon(self.engine.stats.on_cancel)
        self._exit()
