"""The asyncio engine and the thread that runs it for callers.

Open model: requests go out on a fixed schedule of intended times (wrk2's
constant throughput); latency is measured from the intended time (corrected,
free of coordinated omission) and from the actual send (uncorrected). When
``max_in_flight`` requests are outstanding the schedule waits for a slot, so a
slow target shows up as late sends and higher corrected latency, and whatever
was scheduled but never sent by the end is counted as ``not_sent``.

Closed model: ``concurrency`` workers send back to back.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import replace

from .config import LoadConfig
from .payloads import bodies, labels
from .stats import LoadSnapshot, LoadStats
from .transport import Client, ConnectError, Pending, ResponseError, request_bytes

STOP_GRACE_S = 0.5  # after a stop, in-flight requests get this long before they are cancelled
CONTENT_TYPE = "application/json"


def classify(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectError):
        return "connect_refused" if exc.refused else "connect_error"
    if isinstance(exc, ConnectionError):
        return "reset"
    if isinstance(exc, ResponseError):
        return "bad_response"
    return "other"


class _Engine:
    def __init__(self, config: LoadConfig, stats: LoadStats):
        self.config = config
        self.stats = stats
        self.requests = [
            request_bytes(config.url, config.method, body, CONTENT_TYPE)
            for body in bodies(config.month, config.payload, seed=config.seed)
        ]
        self.feedback = None
        if config.feedback_delay is not None:
            from .feedback import FeedbackSender

            self.feedback = FeedbackSender(
                config.url,
                labels(config.month, seed=config.seed),
                delay=config.feedback_delay,
                fraction=config.feedback_fraction,
                seed=config.seed,
            )
        self.rate = config.rate
        self.concurrency = config.concurrency
        self.loop: asyncio.AbstractEventLoop | None = None  # the running loop, set by run()
        self.stop_event = asyncio.Event()
        self.started = 0  # requests started, for the --requests bound
        self.tasks: set[asyncio.Task] = set()  # open model: one per request in flight
        self.workers: list[_ClosedWorker] = []  # closed model
        self.active_workers = 0
        self._rate_changed = False
        self._anchor: tuple[float, float] = (0.0, 0)
        self._ramping = False

    def _claim(self) -> bool:
        if self.config.requests is not None and self.started >= self.config.requests:
            return False
        self.started += 1
        return True

    def _next_request(self, intended: float | None) -> tuple[bytes, float, int]:
        """The next prepared request, its send time (counted as sent once this step ends) and its row."""
        sent_at = time.perf_counter()
        self.loop.call_soon(self.stats.on_send, sent_at, intended)
        index = self.started % len(self.requests)
        return self.requests[index], sent_at, index

    def _record(
        self, intended: float | None, sent_at: float, status: int | None, exc: BaseException | None, index: int = 0
    ) -> None:
        # Every record runs after the request (or the worker's next one) is on the wire: bookkeeping
        # on the turnaround path makes a closed-model client miss the server's next event-loop round.
        # call_soon keeps them in order, so a snapshot never sees a request done before it was sent.
        done_at = time.perf_counter()
        if exc is not None:
            error = classify(exc)
        else:
            error = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else None
        self.loop.call_soon(self.stats.on_done, intended, sent_at, done_at, status, error)
        if self.feedback is not None and status is not None and status < 300:
            self.loop.call_soon(self.feedback.answered, index, done_at)

    async def _one(self, client: Client, intended: float) -> None:
        """One open-model request."""
        data, sent_at, index = self._next_request(intended)
        status = exc = None
        try:
            status = await client.request(data)
        except asyncio.CancelledError:
            self.loop.call_soon(self.stats.on_cancel)
            raise
        except Exception as error:  # every failure of a request is data, not a crash
            exc = error
        self._record(intended, sent_at, status, exc, index)

    def _deadline(self, t0: float) -> float:
        return t0 + self.config.duration if self.config.duration is not None else math.inf

    def _next_intended(self, previous: float | None, i: int, t0: float) -> float:
        """Intended time of request ``i``: a linear ramp (N(t) = R·t²/2T), then exact 1/R spacing.

        A rate change re-anchors the spacing at the last intended time and ends any ramp.
        """
        ramp = self.config.ramp_up
        if self._rate_changed or previous is None:
            self._ramping = bool(ramp) and previous is None
            self._anchor = (t0, 0) if previous is None else (previous + 1.0 / self.rate, i)
            self._rate_changed = False
        if self._ramping:
            ramp_requests = self.rate * ramp / 2
            if i < ramp_requests:
                return t0 + math.sqrt(2 * ramp * i / self.rate)
            self._ramping = False
            self._anchor = (t0 + ramp, ramp_requests)
        anchor_t, anchor_i = self._anchor
        return anchor_t + (i - anchor_i) / self.rate

    async def _open(self, client: Client) -> None:
        slots = asyncio.Semaphore(self.config.max_in_flight)
        t0 = time.perf_counter()
        deadline = self._deadline(t0)
        intended, i = None, 0
        while not self.stop_event.is_set():
            intended = self._next_intended(intended, i, t0)
            if intended >= deadline or not self._claim():
                break
            delay = intended - time.perf_counter()
            if delay > 0 and await self._stopped_within(delay):
                self.started -= 1
                break
            if not await self._slot(slots, deadline):
                self.started -= 1
                if not self.stop_event.is_set():
                    self.stats.on_not_sent(self._remaining(intended, i, t0, deadline))
                break
            task = asyncio.ensure_future(self._one(client, intended))
            self.tasks.add(task)
            task.add_done_callback(lambda t: (self.tasks.discard(t), slots.release()))
            i += 1

    def _remaining(self, intended: float, i: int, t0: float, deadline: float) -> int:
        """How many scheduled requests, from ``intended`` on, fell before the end of the run."""
        n = 0
        limit = self.config.requests - self.started if self.config.requests is not None else 10_000_000
        while intended < deadline and n < limit:
            n += 1
            i += 1
            intended = self._next_intended(intended, i, t0)
        return n

    async def _slot(self, slots: asyncio.Semaphore, deadline: float) -> bool:
        """Wait for an in-flight slot; False if the run ends first. A wait makes the request late."""
        if not slots.locked():
            await slots.acquire()
            return True
        acquire = asyncio.ensure_future(slots.acquire())
        stop = asyncio.ensure_future(self.stop_event.wait())
        remaining = max(0.0, deadline - time.perf_counter()) if deadline != math.inf else None
        done, _ = await asyncio.wait({acquire, stop}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if acquire in done:
            return True
        acquire.cancel()
        return False

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)
            return True
        except TimeoutError:
            return False

    async def _closed(self, client: Client) -> None:
        deadline = self._deadline(time.perf_counter())

        def scale() -> None:
            while self.active_workers < self.concurrency:
                worker = _ClosedWorker(self, client, deadline)
                self.workers.append(worker)
                self.active_workers += 1
                worker.next()

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
        self._rate_changed = True

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stats.mark_start()
        # Connections are bounded by the requests in flight: max_in_flight (open) or the workers (closed).
        client = Client(self.config.url, self.config.timeout, self.loop)
        try:
            if self.config.rate is not None:
                await self._open(client)
            else:
                await self._closed(client)
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
            return {t for t in self.tasks if not t.done()} | {w.finished for w in self.workers if not w.finished.done()}

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
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
        if (
            e.stop_event.is_set()
            or e.active_workers > e.concurrency
            or time.perf_counter() >= self.deadline
            or not e._claim()
        ):
            self._exit()
            return
        data, self.sent_at, self.index = e._next_request(None)
        self.pending = self.client.submit(data, self._done)

    def _done(self, status: int | None, error: BaseException | None) -> None:
        self.pending = None
        self.engine._record(None, self.sent_at, status, error, self.index)
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


class LoadRunner:
    """Runs one load in a background thread; every method is safe to call from any thread."""

    def __init__(self, config: LoadConfig):
        self.config = config
        self.stats = LoadStats(model=config.model, target_rate=config.rate, concurrency=config.concurrency)
        self._engine: _Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="streamflow-load", daemon=True)
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def _main(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        try:
            self._engine = _Engine(self.config, self.stats)
            self._ready.set()
            loop.run_until_complete(self._engine.run())
        except BaseException as exc:  # surfaced to the caller by wait()/stop()
            self.error = exc
            self.stats.finish()
        finally:
            self._ready.set()
            loop.close()

    def start(self) -> LoadRunner:
        self._thread.start()
        self._ready.wait()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> LoadSnapshot:
        return self.stats.snapshot()

    def feedback(self) -> dict | None:
        """What the delayed-label sender has delivered so far (None: the run sends no labels)."""
        engine = self._engine
        return engine.feedback.summary() if engine is not None and engine.feedback is not None else None

    def finished(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the run to end; True once it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _call(self, fn, *args) -> None:
        if self._loop and self._engine and self.running:
            try:
                self._loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:
                pass  # the loop has just closed: the run is over

    def set_rate(self, rate: float) -> None:
        if self.config.rate is None:
            raise ValueError("set_rate applies to the open model")
        replace(self.config, rate=rate)  # validates the number
        self._call(self._engine.set_rate, rate)

    def set_concurrency(self, n: int) -> None:
        if self.config.concurrency is None:
            raise ValueError("set_concurrency applies to the closed model")
        replace(self.config, concurrency=n)
        self._call(self._engine.set_concurrency, n)

    def stop(self, timeout: float = 5.0) -> LoadSnapshot:
        if self._engine is not None:
            self._call(self._engine.stop_event.set)
        self._thread.join(timeout)
        return self._result()

    def wait(self, timeout: float | None = None) -> LoadSnapshot:
        self._thread.join(timeout)
        return self._result()

    def _result(self) -> LoadSnapshot:
        if self.error is not None:
            raise self.error
        return self.stats.snapshot()


def run_load(config: LoadConfig) -> LoadStats:
    """Run to completion in this thread (what one ``--processes`` child does)."""
    stats = LoadStats(model=config.model, target_rate=config.rate, concurrency=config.concurrency)
    loop = new_event_loop()
    try:
        loop.run_until_complete(_Engine(config, stats).run())
    finally:
        loop.close()
    return stats


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it comes with uvicorn[standard]): about a third less client CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
