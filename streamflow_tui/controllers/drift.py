"""Drift checks (on demand and on a schedule) and retraining, run off the UI's loop.

A check runs in the drift engine's warm worker process (Evidently), retraining as a command
(``core.retraining``); each ends in a message to the App — ``DriftDone``/``DriftFailed``,
``RetrainDone``/``RetrainFailed``, ``HtmlReady`` — never in a widget written from a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.timer import Timer

from ..core.drift import DriftEngine
from ..core.drift_types import DriftRequest
from ..core.errors import DriftError, RetrainError
from ..core.retraining import RetrainJob, run_retrain
from ..core.state import ConsoleState
from ..messages import DriftDone, DriftFailed, HtmlReady, RetrainDone, RetrainFailed

SCHEDULE_DEFAULT_S = 60.0  # t turns scheduled live drift on at this period (unless --drift-every said)


@dataclass(frozen=True)
class DriftChoice:
    """The Drift view's selection: what against what, and the share of drifted columns that triggers."""

    reference: str
    current: str
    threshold: float | str  # the text typed when it is not a number


def threshold_of(choice: DriftChoice) -> float:
    if isinstance(choice.threshold, str):
        raise DriftError(f"threshold {choice.threshold!r} is not a number: a drift share in (0, 1], e.g. 0.3")
    return choice.threshold


class DriftController:
    def __init__(self, app: App, state: ConsoleState, engine: DriftEngine | None):
        self.app = app
        self.state = state
        self.engine = engine
        self.started: float | None = None  # the running check's start (clock)
        self.scheduled_run = False  # the running check was started by the schedule
        self.retrain_started: float | None = None
        self.retrain_data: str | None = None
        self.every: float | None = state.config.drift_every
        self._timer: Timer | None = None

    # -- checks ---------------------------------------------------------------------------------------
    def start(self, choice: DriftChoice, *, scheduled: bool = False) -> None:
        """Start a check; DriftError when the choice cannot be checked."""
        config = self.state.config
        request = DriftRequest(
            choice.reference,
            "live" if scheduled else choice.current,
            threshold=threshold_of(choice),
            reports_dir=None if scheduled else config.reports_dir,  # scheduled runs write no report files
            api_url=config.api_url,
        )
        self.started, self.scheduled_run = self.state.clock(), scheduled
        self.app.run_worker(
            lambda: self._check(request), thread=True, exclusive=True, group="drift", exit_on_error=False
        )

    def _check(self, request: DriftRequest) -> None:
        engine = self.engine
        assert engine is not None, "a live session has a drift engine"
        try:
            result = engine.submit(request).result()
        except DriftError as exc:
            self.app.post_message(DriftFailed(str(exc)))
            return
        except Exception as exc:  # the worker process died, or similar
            self.app.post_message(DriftFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.app.post_message(DriftDone(result))
        if result.token:
            try:
                self.app.post_message(HtmlReady(engine.submit_html(result).result()))
            except Exception as exc:
                self.app.post_message(HtmlReady(None, str(exc)))

    def finished(self) -> bool:
        """A check ended (done or failed); whether the schedule started it."""
        scheduled = self.scheduled_run
        self.started, self.scheduled_run = None, False
        return scheduled

    # -- the schedule -----------------------------------------------------------------------------------
    @property
    def scheduled(self) -> bool:
        return self._timer is not None

    def schedule(self, on_tick) -> None:
        self.every = self.every or SCHEDULE_DEFAULT_S
        self._timer = self.app.set_interval(self.every, on_tick)

    def unschedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # -- retraining ---------------------------------------------------------------------------------------
    def retrain(self) -> None:
        """Retrain on the current data of the last check run by hand (never silently on a timed run's live rows),
        through the retrain command, in a thread."""
        result = self.state.drift_checked
        assert result is not None, "retraining follows a drift check"
        config = self.state.config
        job = RetrainJob(
            result.current,
            api_url=config.api_url if result.current == "live" else None,
            min_gain=config.min_gain,
            registry=config.registry,
            registry_location=config.registry_location,
            command=config.retrain_cmd,
        )
        self.retrain_started, self.retrain_data = self.state.clock(), job.data
        self.app.run_worker(
            lambda: self._retrain(job), thread=True, exclusive=True, group="retrain", exit_on_error=False
        )

    def _retrain(self, job: RetrainJob) -> None:
        try:
            self.app.post_message(RetrainDone(run_retrain(job)))  # the retrain command, as a process
        except Exception as exc:  # RetrainError says what is wrong; anything else with its type
            self.app.post_message(
                RetrainFailed(str(exc) if isinstance(exc, RetrainError) else f"{type(exc).__name__}: {exc}")
            )

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
