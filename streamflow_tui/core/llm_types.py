"""The typed LLM numbers a snapshot carries (``Snapshot.llm``), computed by core/llm.py. Apart from it so that
results.py can name them without importing the computation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .llm_presets import LlmSpec

QUANTILE_KEYS = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
ALL = "*"  # the row that sums every model


@dataclass(frozen=True)
class Estimate:
    """A number only known to lie between ``lower`` and ``upper`` (a histogram's bucket edges): ``value`` is the
    interpolated estimate. ``upper`` is math.inf for the +Inf bucket."""

    value: float | None
    lower: float | None = None
    upper: float | None = None

    @property
    def coarse(self) -> bool:
        """The range is wide for the value (at least half of it: vLLM's TTFT p99 between 1 s and 2.5 s): show the
        range, not a false-precise number. Stricter than QuantileBounds.coarse (at least the value itself): an LLM
        objective is judged on TTFT/ITL tails that fall in such buckets."""
        if self.value is None or self.lower is None or self.upper is None:
            return False
        return math.isinf(self.upper) or self.upper - self.lower >= 0.5 * self.value


@dataclass(frozen=True)
class LlmLatency:
    """One latency histogram over the window: its quantiles (seconds) and its per-bucket counts."""

    p50: Estimate
    p95: Estimate
    p99: Estimate
    histogram: tuple[tuple[float, float | None], ...] = ()  # (le, observations in that bucket alone), in the window

    def quantile(self, key: str) -> Estimate:
        return getattr(self, key)


@dataclass(frozen=True)
class LlmModel:
    model: str  # the model label's value; ALL for the sum of every model; "" when the engine has no model label
    latency: tuple[tuple[str, LlmLatency | None], ...] = ()  # by role: ttft, itl, e2e, queue
    prompt_tokens_per_s: float | None = None
    generation_tokens_per_s: float | None = None
    running: float | None = None
    waiting: float | None = None
    kv_usage: float | None = None  # 0-1, the mean over replicas
    preemptions_per_s: float | None = None
    prefix_hit_ratio: float | None = None

    def of(self, role: str) -> LlmLatency | None:
        return next((lat for r, lat in self.latency if r == role), None)


@dataclass(frozen=True)
class LlmStats:
    spec: LlmSpec
    models: tuple[LlmModel, ...]  # per model, and (when there are several) ALL last
    window_seconds: float = 0.0

    @property
    def total(self) -> LlmModel | None:
        """The row for every model together: ALL when there are several, else the one model."""
        if not self.models:
            return None
        return next((m for m in self.models if m.model == ALL), self.models[0])
