"""The ``llm`` block of ``--once --json``, its text section, and the naming block's ``llm`` entry."""

from __future__ import annotations

import math
from typing import Any

from .format import bound, ms, num, pct
from .llm import Goodput, goodput
from .llm_presets import LlmSpec
from .llm_types import ALL, Estimate, LlmModel, LlmStats

ROLE_KEYS = (
    ("ttft", "ttft_seconds"),
    ("itl", "itl_seconds"),
    ("e2e", "e2e_seconds"),
    ("queue", "queue_seconds"),
)
SCALARS = (
    ("prompt_tokens", "prompt_tokens_per_s", "prompt_tokens_per_s"),
    ("generation_tokens", "generation_tokens_per_s", "generation_tokens_per_s"),
    ("running", "requests_running", "running"),
    ("waiting", "requests_waiting", "waiting"),
    ("kv_usage", "kv_cache_usage", "kv_usage"),
    ("preemptions", "preemptions_per_s", "preemptions_per_s"),
    ("prefix_hits", "prefix_cache_hit_ratio", "prefix_hit_ratio"),
)


def _edge(value: float | None) -> float | str | None:
    return "+Inf" if value is not None and math.isinf(value) else value


def estimate_json(e: Estimate | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"value": e.value, "lower": e.lower, "upper": _edge(e.upper), "coarse": e.coarse}


def _role_json(spec: LlmSpec, m: LlmModel, role: str) -> dict[str, Any]:
    metric = spec.metric(role)
    out: dict[str, Any] = {"metric": metric, "reason": spec.reason(role)}
    if role == "itl":
        out["kind"] = spec.itl_kind
    lat = m.of(role)
    for key in ("p50", "p95", "p99"):
        out[key] = estimate_json(lat.quantile(key)) if lat else None
    if metric and lat is None:
        out["reason"] = "no observations in the window"
    if spec.note(role):
        out["note"] = spec.note(role)
    return out


def _scalar_json(spec: LlmSpec, m: LlmModel, role: str, attr: str) -> dict[str, Any]:
    metric = spec.metric(role)
    if role == "prefix_hits":
        metric = f"{spec.prefix_hits} / {spec.prefix_queries}" if spec.prefix_hits and spec.prefix_queries else None
    value = getattr(m, attr)
    reason = spec.reason(role) if metric is None else (None if value is not None else "no data in the window")
    out: dict[str, Any] = {"value": value, "metric": metric, "reason": reason}
    if spec.note(role) and metric:
        out["note"] = spec.note(role)
    return out


def goodput_json(g: Goodput | None) -> dict[str, Any] | None:
    if g is None:
        return None
    return {
        "slo_ttft_seconds": g.slo_ttft,
        "slo_itl_seconds": g.slo_itl,
        "share": estimate_json(g.share),
        "how": g.how,
    }


def llm_json(
    llm: LlmStats | None, slo_ttft: float | None = None, slo_itl: float | None = None
) -> dict[str, Any] | None:
    """Per model (and ``*`` for all of them): each quantile with its bucket's edges, every other number with the
    family it came from, or null with the reason (not exposed by the engine, or no data in the window)."""
    if llm is None:
        return None
    spec = llm.spec
    models = []
    for m in llm.models:
        row: dict[str, Any] = {"model": m.model}
        for role, key in ROLE_KEYS:
            row[key] = _role_json(spec, m, role)
        for role, key, attr in SCALARS:
            row[key] = _scalar_json(spec, m, role, attr)
        row["goodput"] = goodput_json(goodput(m, spec, slo_ttft, slo_itl))
        models.append(row)
    total = llm.total
    return {
        "engine": spec.engine,
        "family": spec.name,
        "era": spec.era or None,
        "window_seconds": llm.window_seconds,
        "model_label": spec.model_label,
        "models": models,
        "goodput": goodput_json(goodput(total, spec, slo_ttft, slo_itl)) if total else None,
    }


def naming_llm(llm: LlmStats | None) -> dict[str, Any] | None:
    """Which engine and naming era was recognised, the family read for each role, the deprecated ones left."""
    if llm is None:
        return None
    s = llm.spec
    return {
        "engine": s.engine,
        "family": s.name,
        "era": s.era or None,
        "era_note": s.era_note,
        "recognised_by": s.signature,
        "read": s.read(),
        "not_exposed": {role: why for role, why in s.absent},
        "ignored_duplicates": list(s.ignored),
    }


def goodput_share(llm: LlmStats | None, slo_ttft: float | None, slo_itl: float | None) -> float | None:
    """Every model's goodput estimate (what --slo-goodput is checked against); None: nothing to judge."""
    if llm is None or llm.total is None:
        return None
    g = goodput(llm.total, llm.spec, slo_ttft, slo_itl)
    return g.share.value if g and g.share else None


# -- text ------------------------------------------------------------------------------------------------


def shown(e: Estimate | None) -> str:
    """A quantile as the data supports it: the bucket's range when it is wider than the value."""
    if e is None or e.value is None:
        return "–"
    if not e.coarse or e.lower is None or e.upper is None:
        return ms(e.value)
    if math.isinf(e.upper):
        return f"> {bound(e.lower)}"
    if e.lower <= 0:
        return f"≤ {bound(e.upper)}"
    return f"{bound(e.lower)}–{bound(e.upper)}"


def _why(spec: LlmSpec, role: str) -> str:
    return spec.reason(role) or "–"


def render_text(llm: LlmStats, slo_ttft: float | None = None, slo_itl: float | None = None) -> str:
    s = llm.spec
    era = f", era {s.era}" if s.era else ""
    lines = ["", f"{'llm':<11} {s.name}{era} ({s.era_note})"]
    for m in llm.models:
        name = "all models" if m.model == ALL else (m.model or "(the served model)")
        lines.append(f"  {name}")
        for role, label in (
            ("ttft", "TTFT"),
            ("itl", "ITL" if s.itl_kind == "itl" else "TPOT"),
            ("e2e", "e2e"),
            ("queue", "queue"),
        ):
            lat = m.of(role)
            if s.metric(role) is None:
                lines.append(f"    {label:<6} {_why(s, role)}")
            elif lat is None:
                lines.append(f"    {label:<6} – (no observations in the window)")
            else:
                lines.append(f"    {label:<6} p50 {shown(lat.p50)}   p95 {shown(lat.p95)}   p99 {shown(lat.p99)}")
        tokens = (
            f"    tokens/s prompt {num(m.prompt_tokens_per_s) if s.prompt_tokens else _why(s, 'prompt_tokens')}"
            f"   generation {num(m.generation_tokens_per_s) if s.generation_tokens else _why(s, 'generation_tokens')}"
        )
        lines.append(tokens)
        lines.append(
            f"    requests running {num(m.running, '{:,.0f}')}   waiting {num(m.waiting, '{:,.0f}')}"
            f"   KV cache {pct(m.kv_usage) if s.kv_usage else _why(s, 'kv_usage')}"
        )
        lines.append(
            f"    preemptions/s {num(m.preemptions_per_s, '{:,.2f}') if s.preemptions else _why(s, 'preemptions')}"
            f"   prefix-cache hits {pct(m.prefix_hit_ratio) if s.prefix_hits else _why(s, 'prefix_hits')}"
        )
        g = goodput(m, s, slo_ttft, slo_itl)
        if g is not None:
            if g.share is None:
                lines.append(f"    goodput – ({g.how})")
            else:
                e = g.share
                lines.append(f"    goodput {pct(e.value)} (between {pct(e.lower)} and {pct(e.upper)}; {g.how})")
    return "\n".join(lines) + "\n"


def with_llm_naming(naming: dict[str, Any] | None, llm: LlmStats | None) -> dict[str, Any] | None:
    """The naming block with the LLM engine and era recognised (``naming.llm``), when one is."""
    if naming is None or llm is None:
        return naming
    return {**naming, "llm": naming_llm(llm)}
