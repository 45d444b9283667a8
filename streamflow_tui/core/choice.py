"""Choosing what to read from a catalog: the configured names, a preset recognised (or forced), or detection —
and then the flags given explicitly, applied on top. Kept apart from ``naming`` (the vocabulary that presets
and detection share), so that none of the three imports another in a circle."""

from __future__ import annotations

import re
from dataclasses import replace

from .detect import best_latency as _best_latency
from .detect import generic as _generic
from .naming import (
    CANDIDATE,
    CODE_LABELS,
    ENDPOINT_LABELS,
    MODEL_LABELS,
    SELF_MONITORING,
    Catalog,
    MetricNames,
    _none,
    describe,
    latency_spec,
    pick_label,
)
from .presets import PRESET_METRICS, PRESETS, _metrics_of, match_presets
from .results import CounterPart, MetricChoice


def is_candidate(sample_name: str, names: MetricNames) -> bool:
    """Whether the labels of this sample name are needed to choose (cheap: the rest stay unparsed)."""
    if sample_name in PRESET_METRICS or sample_name in _configured(names):
        return True
    return bool(CANDIDATE.search(sample_name)) and not SELF_MONITORING.search(sample_name)


def _configured(names: MetricNames) -> set[str]:
    base = names.latency
    return {names.requests, base, base + "_bucket", base + "_sum", base + "_count"}


def choose(names: MetricNames, catalog: Catalog, *, preset: str | None = None) -> MetricChoice:
    """Pick the metrics to read from ``catalog`` (sample name -> SampleMeta)."""
    choice = _choose(names, catalog, preset=preset)
    declared = [catalog[m].declared_only for m in choice.requests_metrics if m in catalog]
    if declared and all(declared):
        return replace(
            choice,
            declared_only=True,
            note=choice.note + "; no request counted yet (its counters are declared, with no series): 0 so far",
        )
    return choice


def _choose(names: MetricNames, catalog: Catalog, *, preset: str | None = None) -> MetricChoice:
    if preset is not None:
        p = PRESETS[preset]
        choice = p.build(catalog)
        if choice is None:
            missing = ", ".join(p.signature)
            return _none(f"preset {p.id} ({p.name}): none of its metrics ({missing}) are served")
        return _apply_explicit(
            replace(choice, note=f"preset {p.id} (forced with --preset); " + choice.note), names, catalog
        )
    if names.requests in catalog:
        return _apply_explicit(_configured_choice(names, catalog), names, catalog)
    matched = match_presets(catalog)
    if matched:
        p, choice = matched[0]
        others = _generic(names, catalog)
        why = f"recognised {p.name} by {p.signature_found(catalog)}"
        own = _metrics_of(p)  # the same stack's other counters are not "generic"
        if others.found and not set(others.requests_metrics) & (set(choice.requests_metrics) | own):
            why += f"; preferred over the generic {', '.join(others.requests_metrics)}"
        if len(matched) > 1:
            why += f"; also matched: {', '.join(q.id for q, _ in matched[1:])}"
        return _apply_explicit(replace(choice, note=why + "; " + choice.note), names, catalog)
    choice = _generic(names, catalog)
    if not choice.found:
        return choice
    absent = f"{names.requests} not served; " if "requests" in names.explicit else ""
    return _apply_explicit(replace(choice, note=absent + choice.note), names, catalog)


def _configured_choice(names: MetricNames, catalog: Catalog) -> MetricChoice:
    labels = catalog[names.requests].labels
    endpoint = pick_label(labels, names.endpoint_label, () if "endpoint_label" in names.explicit else ENDPOINT_LABELS)
    code = pick_label(labels, names.code_label, () if "code_label" in names.explicit else CODE_LABELS)
    status = names.status_label if names.status_label in labels and names.status_label != code else None
    latency, how = latency_spec(catalog, names.latency)
    detected_latency = False
    if latency is None:
        latency, how = _best_latency(catalog, names.requests, labels)
        detected_latency = latency is not None
    model = pick_label(labels, names.model_label, MODEL_LABELS)
    ours = names.requests == MetricNames.requests
    return MetricChoice(
        requests=(CounterPart(names.requests),),
        latency=latency,
        endpoint_label=endpoint,
        status_label=status,
        code_label=code,
        model_label=model,
        family="StreamFlow API" if ours else "configured names",
        detected=detected_latency,
        note=describe((CounterPart(names.requests),), latency, how, endpoint, code, status, model),
    )


_LABEL_FIELDS = ("endpoint_label", "status_label", "code_label", "model_label")


def _apply_explicit(choice: MetricChoice, names: MetricNames, catalog: Catalog) -> MetricChoice:
    """Flags and STREAMFLOW_* variables win over whatever was recognised, and the note says what was used.
    A code or status label given explicitly turns error counting on: the user says where errors are."""
    e = names.explicit
    changes: dict = {}
    if "latency" in e and names.latency not in {choice.latency.metric if choice.latency else None}:
        latency, _ = latency_spec(catalog, names.latency)
        changes["latency"] = latency
    for label in _LABEL_FIELDS:
        if label in e:
            changes[label] = getattr(names, label)
    if "status_label" in e or "code_label" in e:
        changes["errors_known"] = True
    if not changes:
        return choice
    new = replace(choice, **changes)
    note = re.sub(r"labels: [^;]*", _labels_clause(new), new.note, count=1)
    note = note.replace("; errors: not counted by the target", "") if new.errors_known else note
    served = frozenset().union(*(catalog[m].labels for m in new.requests_metrics if m in catalog))
    given = []
    for f in sorted(e & set(_LABEL_FIELDS) | (e & {"latency"})):
        value = getattr(names, f)
        missing = f.endswith("_label") and served and value not in served
        given.append(
            f"{f.replace('_label', '')}={value}" + (" (not a label of the requests: reads empty)" if missing else "")
        )
    return replace(new, note=note + "; set explicitly: " + ", ".join(given))


def _labels_clause(c: MetricChoice) -> str:
    status_text = c.status_label or ("(from code)" if c.code_label else "(none)")
    return (
        f"labels: endpoint={c.endpoint_label or '-'} code={c.code_label or '-'} status={status_text}"
        f" model={c.model_label or '-'}"
    )
