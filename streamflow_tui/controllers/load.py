"""The built-in load generator: start, stop and change a load from the Load view's settings.

The load runs in the load generator's own thread (``loadgen.LoadRunner``); this controller keeps the runner
and puts what the views need into the console's state. Against an LLM engine (the last poll that read the
target recognised one: ``Snapshot.llm``) the load is streamed completions to its OpenAI-compatible endpoint,
with ``streamflow-load --stream``'s defaults; against anything else, /predict.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgen import LoadConfig, LoadConfigError, LoadRunner
from loadgen.errors import PromptError
from loadgen.preflight import check_payload_month
from loadgen.prompts import DEFAULT_API, DEFAULT_PROMPT_TOKENS, ENDPOINTS, STREAM_TIMEOUT_S, StreamOptions

from ..core.llm_types import ALL, LlmStats
from ..core.state import ConsoleState

RATE_STEP = 1.25  # + and - change the rate by this factor (the workers by one)
UNTIL_STOPPED_S = 24 * 3600.0  # a console load runs until stopped (a day at most)


@dataclass(frozen=True)
class LoadSettings:
    """What the Load view's controls say (its own validators have checked the numbers)."""

    open_model: bool
    rate: float
    concurrency: int
    month: str
    payload: str
    feedback_delay: float | None  # None: send no labels
    api: str = DEFAULT_API  # an LLM engine's endpoint: "chat" or "completions" (loadgen.prompts.ENDPOINTS)


@dataclass(frozen=True)
class StreamTarget:
    """Where a stream load goes: the engine recognised, the endpoint's URL, the model field (None: not sent)."""

    engine: str
    url: str
    model: str | None


def served_model(llm: LlmStats) -> str | None:
    """The model field a stream load sends: the one model the engine's metrics name (vLLM's model_name is the
    served name its API takes), or None (several, or unnamed): the field is left out, for the engine's default."""
    named = [m.model for m in llm.models if m.model not in (ALL, "")]
    return named[0] if len(named) == 1 else None


class LoadController:
    def __init__(self, state: ConsoleState):
        self.state = state
        self.runner: LoadRunner | None = None
        self.stopping = False  # a stop runs in a worker (it waits for requests in flight): set until it ends
        self.stream_target: StreamTarget | None = None  # the last load's, when it streamed completions

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def start(self, settings: LoadSettings) -> str | None:
        """Start a load; why not, when it cannot start (also kept in the state for the view)."""
        url = self.state.config.api_url
        error = None
        snapshot = self.state.snapshot
        llm = self.llm
        if not url:
            error = "no API URL to load (watching Prometheus only)"
        elif snapshot is not None and snapshot.api.up is False:
            # The last poll could not read the target: every request would fail (connect_refused by the
            # thousand), which measures nothing. Say why instead, and send nothing.
            start_it = f"start {llm.spec.name}" if llm is not None else "start it (streamflow-api)"
            error = (
                f"not started: the API at {snapshot.api.url or url} cannot be read ({snapshot.api.error or 'DOWN'})"
                f" — {start_it} or check --api-url; l again once the status line says UP"
            )
        else:
            rate = settings.rate if settings.open_model else None
            concurrency = None if settings.open_model else settings.concurrency
            target: StreamTarget | None = None
            try:
                if llm is not None:
                    config, target = self._stream_config(url, rate, concurrency, settings.api, llm)
                else:
                    config = LoadConfig(
                        url=url.rstrip("/") + "/predict",
                        rate=rate,
                        concurrency=concurrency,
                        duration=UNTIL_STOPPED_S,
                        month=settings.month,
                        payload=settings.payload,
                        feedback_delay=settings.feedback_delay,
                    )
                    # The month the API serves, as its own metrics say (api_model_info): user ids of another
                    # month would be labelled with the wrong rows' churn.
                    check_payload_month(config, snapshot.model.served_month if snapshot and snapshot.model else None)
            except (LoadConfigError, PromptError) as exc:
                error = str(exc)
            else:
                self.runner = LoadRunner(config).start()
                self.stream_target = target
        self.state.load_error = error
        self.refresh()
        return error

    @property
    def llm(self) -> LlmStats | None:
        """The LLM engine the last readable poll recognised (None: the target is not one, or not read yet)."""
        shown = self.state.shown
        return shown.llm if shown is not None else None

    @staticmethod
    def _stream_config(
        url: str, rate: float | None, concurrency: int | None, api: str, llm: LlmStats
    ) -> tuple[LoadConfig, StreamTarget]:
        """``streamflow-load --stream``'s run against the engine: its default prompts and max_tokens, the
        model field the engine's own metrics name when it serves one model (otherwise none: its default)."""
        model = served_model(llm)
        options = StreamOptions(api=api, model=model, prompt_tokens=DEFAULT_PROMPT_TOKENS)
        config = LoadConfig(
            url=url.rstrip("/") + ENDPOINTS[api],
            rate=rate,
            concurrency=concurrency,
            duration=UNTIL_STOPPED_S,
            timeout=STREAM_TIMEOUT_S,
            payload="none",
            stream=options,
        )
        return config, StreamTarget(llm.spec.name, config.url, model)

    def failure(self) -> str | None:
        """Why the last load ended by itself, when it failed (the engine's thread raised): shown, never lost."""
        runner = self.runner
        if runner is None or runner.running or runner.error is None:
            return None
        return f"the load stopped: {type(runner.error).__name__}: {runner.error}"

    def pending(self, settings: LoadSettings) -> list[str]:
        """The settings that differ from the running load's (none when no load runs): they apply at its next start.

        Why not apply them to the running load: its numbers (sent, ok, achieved rate, the corrected latency
        percentiles, the labels delivered) describe one load, and a switch of model or label delay mid-run would
        mix two loads into one report with nothing to tell them apart. + and - are the in-run controls; for the
        rest, l stops and l again starts with the new settings at once (a start pressed while the stop is under
        way is kept and runs when it ends)."""
        runner = self.runner
        if runner is None or not runner.running or self.stopping:
            return []
        config, now = runner.config, runner.snapshot()
        changed = []
        if settings.open_model != (config.rate is not None):
            changed.append("model")
        elif settings.open_model and settings.rate != now.target_rate:
            changed.append("rate/s")
        elif not settings.open_model and settings.concurrency != now.concurrency:
            changed.append("workers")
        if config.stream is not None:  # /predict's month, payload and labels do not apply to a stream
            if settings.api != config.stream.api:
                changed.append("endpoint")
            return changed
        if settings.month != config.month:
            changed.append("month")
        if settings.payload != config.payload:
            changed.append("payload")
        if settings.feedback_delay != config.feedback_delay:
            changed.append("labels after")
        return changed

    def stop(self) -> None:
        """Stop the load: waits for requests in flight (up to a 0.5 s grace), so not on the UI's loop."""
        if self.runner is not None:
            self.runner.stop()

    def change(self, faster: bool) -> tuple[float | None, int | None] | None:
        """+ / -: the new (rate, workers) target, or None when no load runs."""
        runner = self.runner
        if runner is None or not runner.running:
            return None
        if runner.config.rate is not None:
            factor = RATE_STEP if faster else 1 / RATE_STEP
            rate = max(1.0, round(runner.snapshot().target_rate * factor, 1))
            runner.set_rate(rate)
            target: tuple[float | None, int | None] = (rate, None)
        else:
            n = max(1, runner.snapshot().concurrency + (1 if faster else -1))
            runner.set_concurrency(n)
            target = (None, n)
        self.refresh()
        return target

    def refresh(self) -> None:
        """The runner's numbers now, after an action changed them (polls bring them otherwise)."""
        self.state.load = self.runner.snapshot() if self.runner is not None else None

    def feedback(self) -> dict | None:
        return self.runner.feedback() if self.runner is not None else None
