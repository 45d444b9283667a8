"""The load engine in a thread of its own, for callers that are not async: the CLI, the console, the
segments' processes."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from .config import LoadConfig
from .engine import _Engine
from .stats import LoadSnapshot, LoadStats
from .stream_stats import StreamStats


class LoadRunner:
    """Runs one load in a background thread; every method is safe to call from any thread."""

    def __init__(self, config: LoadConfig, stats: LoadStats | None = None):
        """``stats``: where to count (already served on a metrics port, say); a new one by default."""
        self.config = config
        self.stats = stats if stats is not None else stats_for(config)
        self._engine: _Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="streamflow-load", daemon=True)
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def _main(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        try:
            self._engine = _Engine(self.config, self.stats, loop)
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
        if self._engine is not None:  # None before start(), or when the engine could not be built
            self._call(self._engine.set_rate, rate)

    def set_concurrency(self, n: int) -> None:
        if self.config.concurrency is None:
            raise ValueError("set_concurrency applies to the closed model")
        replace(self.config, concurrency=n)
        if self._engine is not None:
            self._call(self._engine.set_concurrency, n)

    def stop(self, timeout: float = 5.0) -> LoadSnapshot:
        if self._engine is not None:
            self._call(self._engine.stop)
        self._thread.join(timeout)
        return self._result()

    def wait(self, timeout: float | None = None) -> LoadSnapshot:
        self._thread.join(timeout)
        return self._result()

    def _result(self) -> LoadSnapshot:
        if self.error is not None:
            raise self.error
        return self.stats.snapshot()


def stats_for(config: LoadConfig) -> LoadStats:
    """Empty statistics for a run of ``config``."""
    stats = LoadStats(model=config.model, target_rate=config.rate, concurrency=config.concurrency)
    if config.stream is not None:
        stats.stream = StreamStats()
    return stats


def run_load(config: LoadConfig) -> LoadStats:
    """Run to completion in this thread (a library call; the CLI and the console use ``LoadRunner``)."""
    stats = stats_for(config)
    loop = new_event_loop()
    try:
        loop.run_until_complete(_Engine(config, stats, loop).run())
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
