"""A large synthetic exposition (a busy exporter) with the bundled API's families inside it."""

from __future__ import annotations

import random


def large_exposition(samples: int = 100_000, seed: int = 7, openmetrics: bool = False) -> str:
    """About ``samples`` samples: many gauge/counter/histogram families of the kinds exporters serve,
    with our API's request counter and latency histogram among them."""
    rng = random.Random(seed)
    lines: list[str] = []
    count = 0
    family = 0
    ours_at = samples // 2
    while count < samples:
        if count >= ours_at and ours_at >= 0:
            lines += _ours(rng, openmetrics)
            count += 26
            ours_at = -1
            continue
        kind = ("gauge", "counter", "histogram")[family % 3]
        name = f"exporter_family_{family}_{'bytes' if kind == 'gauge' else 'operations'}"
        name += "_total" if kind == "counter" and not openmetrics else ""
        typename = name.removesuffix("_total") if openmetrics else name
        lines.append(f"# HELP {typename} Synthetic family {family}.")
        lines.append(f"# TYPE {typename} {kind}")
        series = rng.randint(20, 200)
        for s in range(series):
            labels = f'device="dev{s}",node="node-{s % 7}",zone="z{s % 3}"'
            if kind == "histogram":
                acc = 0
                for le in ("0.005", "0.05", "0.5", "5", "+Inf"):
                    acc += rng.randint(0, 50)
                    lines.append(f'{typename}_bucket{{{labels},le="{le}"}} {acc}')
                lines.append(f"{typename}_sum{{{labels}}} {acc * 0.01:.3f}")
                lines.append(f"{typename}_count{{{labels}}} {acc}")
                count += 7
            else:
                sample = typename + "_total" if kind == "counter" and openmetrics else name
                lines.append(f"{sample}{{{labels}}} {rng.random() * 1e6:.3f}")
                count += 1
        family += 1
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _ours(rng: random.Random, openmetrics: bool) -> list[str]:
    counter = "api_requests" if openmetrics else "api_requests_total"
    out = ["# HELP api_requests_total Requests.".replace("api_requests_total", counter), f"# TYPE {counter} counter"]
    for endpoint, status, code in (
        ("/predict", "success", "200"),
        ("/predict", "error", "404"),
        ("/health", "success", "200"),
    ):
        out.append(
            f'api_requests_total{{code="{code}",endpoint="{endpoint}",status="{status}"}} {rng.randint(100, 10_000)}.0'
        )
    out += ["# HELP api_request_latency_seconds Latency.", "# TYPE api_request_latency_seconds histogram"]
    for endpoint in ("/predict", "/health"):
        acc = 0
        for le in ("0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "+Inf"):
            acc += rng.randint(0, 500)
            out.append(f'api_request_latency_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} {acc}.0')
        out.append(f'api_request_latency_seconds_sum{{endpoint="{endpoint}"}} {acc * 0.002:.4f}')
        out.append(f'api_request_latency_seconds_count{{endpoint="{endpoint}"}} {acc}.0')
    return out
