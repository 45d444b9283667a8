"""Deterministic generator of the bundled monthly snapshots.

    python -m streamflow_data.generate            # rewrite data/month_*.csv
    python -m streamflow_data.generate --check    # verify the files match

The simulation keeps a panel of about 7,000 active subscribers. Each user has
persistent traits (plan, network, habits, payment risk) from which the monthly
observations are drawn. Users whose ``churn_label`` is 1 leave before the next
snapshot and are replaced by new sign-ups, so the population renews itself the
way a subscription base does. A burn-in of several years before the reference
month makes month-to-month changes those of a steady state; the documented
scenarios (docs/DATA.md) are then applied on top, month by month.
"""

from __future__ import annotations

import argparse
import io
import string
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import MONTH_AS_OF, MONTHS, data_dir
from .schema import COLUMNS, NET_SERVICES

SEED = 20240131
N_USERS = 7000
BURN_IN_MONTHS = 60


@dataclass(frozen=True)
class Scenario:
    """Month-specific effects layered on the steady-state simulation."""

    fee_delta: float = 0.0  # added to every monthly fee
    watch_factor: float = 1.0  # multiplies watch hours
    session_factor: float = 1.0
    skip_factor: float = 1.0
    rebuffer_factor: float = 1.0
    ticket_extra: float = 0.0  # extra expected support tickets
    resolution_factor: float = 1.0
    churn_shift: float = 0.0  # added to the churn log-odds
    fiber_upgrade: float = 0.0  # share of DSL users moved to Fiber optic
    tv_uptake: float = 0.0  # share of users without TV who add it
    movies_uptake: float = 0.0


STEADY = Scenario()
SCENARIOS: dict[str, Scenario] = {
    "month_000": STEADY,
    # A hit series: people watch more; nothing else moves.
    "month_001": Scenario(watch_factor=1.18),
    "month_002": STEADY,
    # Price rise plus a CDN incident that degraded streaming quality.
    "month_003": Scenario(
        fee_delta=2.0,
        watch_factor=0.8,
        session_factor=0.75,
        skip_factor=1.8,
        rebuffer_factor=3.0,
        ticket_extra=1.2,
        resolution_factor=1.8,
        churn_shift=0.3,
    ),
    # A competitor's launch: churn jumps while usage looks normal.
    "month_004": Scenario(churn_shift=0.5),
    # Fiber roll-out and a TV/movies bundle promotion.
    "month_005": Scenario(fiber_upgrade=0.55, tv_uptake=0.35, movies_uptake=0.3),
}

_ID_LETTERS = np.array(list(string.ascii_uppercase))


class Panel:
    """Persistent per-user traits of the active subscribers."""

    def __init__(self, rng: np.random.Generator, n: int, months_active: np.ndarray | None = None):
        self.rng = rng
        self.user_id = np.array([], dtype=object)
        self.traits: dict[str, np.ndarray] = {}
        self._issued: set[str] = set()
        self.join(n, months_active)

    def _new_ids(self, n: int) -> np.ndarray:
        ids: list[str] = []
        while len(ids) < n:
            digits = self.rng.integers(0, 10_000)
            letters = "".join(self.rng.choice(_ID_LETTERS, 5))
            uid = f"{digits:04d}-{letters}"
            if uid not in self._issued:
                self._issued.add(uid)
                ids.append(uid)
        return np.array(ids, dtype=object)

    def join(self, n: int, months_active: np.ndarray | None = None) -> None:
        rng = self.rng
        net = rng.choice(len(NET_SERVICES), n, p=[0.34, 0.44, 0.22])
        tv = (rng.random(n) < 0.40).astype(int)
        movies = (rng.random(n) < 0.40).astype(int)
        new = {
            "months_active": np.zeros(n, dtype=int) if months_active is None else months_active,
            "net": net,
            "tv": tv,
            "movies": movies,
            "paperless": (rng.random(n) < 0.59).astype(int),
            "fee_noise": rng.normal(0.0, 0.9, n),
            "watch_mean": rng.lognormal(np.log(22.0), 0.55, n),
            "session_mean": rng.lognormal(np.log(38.0), 0.35, n),
            "device_rate": rng.gamma(2.0, 0.6, n),
            "skip_rate": rng.gamma(2.0, 2.0, n),
            "rebuffer_rate": rng.gamma(2.0, 0.5, n) * np.array([1.6, 0.6, 1.1])[net],
            "payment_risk": rng.gamma(0.6, 0.35, n),
            "ticket_rate": rng.gamma(6.0, 0.5, n),
            "resolution_mean": rng.lognormal(np.log(18.0), 0.45, n),
        }
        self.user_id = np.concatenate([self.user_id, self._new_ids(n)])
        if self.traits:
            new = {key: np.concatenate([self.traits[key], values]) for key, values in new.items()}
        self.traits = new

    def keep(self, mask: np.ndarray) -> None:
        self.user_id = self.user_id[mask]
        self.traits = {k: v[mask] for k, v in self.traits.items()}

    def apply_plan_changes(self, s: Scenario) -> None:
        t, rng, n = self.traits, self.rng, len(self.user_id)
        dsl = t["net"] == NET_SERVICES.index("DSL")
        t["net"] = np.where(dsl & (rng.random(n) < s.fiber_upgrade), NET_SERVICES.index("Fiber optic"), t["net"])
        t["tv"] = np.where((t["tv"] == 0) & (rng.random(n) < s.tv_uptake), 1, t["tv"])
        t["movies"] = np.where((t["movies"] == 0) & (rng.random(n) < s.movies_uptake), 1, t["movies"])


def observe(panel: Panel, s: Scenario) -> dict[str, np.ndarray]:
    """Draw one month's observed features and churn labels."""
    rng, t = panel.rng, panel.traits
    n = len(panel.user_id)
    fiber = (t["net"] == NET_SERVICES.index("Fiber optic")).astype(int)
    fee = 7.99 + 3.0 * t["tv"] + 3.5 * t["movies"] + 2.0 * fiber + t["fee_noise"] + s.fee_delta
    watch = t["watch_mean"] * rng.gamma(9.0, 1 / 9.0, n) * s.watch_factor
    session = t["session_mean"] * rng.gamma(12.0, 1 / 12.0, n) * s.session_factor
    rebuffer = rng.poisson(t["rebuffer_rate"] * s.rebuffer_factor)
    tickets = rng.poisson(t["ticket_rate"] + s.ticket_extra + 0.08 * rebuffer)
    resolution = t["resolution_mean"] * rng.gamma(6.0, 1 / 6.0, n) * s.resolution_factor
    obs = {
        "months_active": t["months_active"],
        "monthly_fee": np.round(np.clip(fee, 4.99, None), 2),
        "paperless_billing": t["paperless"],
        "plan_stream_tv": t["tv"],
        "plan_stream_movies": t["movies"],
        "net_service": np.array(NET_SERVICES, dtype=object)[t["net"]],
        "watch_hours_30d": np.round(watch, 1),
        "avg_session_mins_7d": np.round(session, 1),
        "unique_devices_30d": 1 + np.minimum(rng.poisson(t["device_rate"]), 7),
        "skips_7d": rng.poisson(t["skip_rate"] * s.skip_factor),
        "rebuffer_events_7d": rebuffer,
        "failed_payments_90d": np.minimum(rng.poisson(t["payment_risk"]), 6),
        "support_tickets_90d": tickets,
        "ticket_avg_resolution_hrs_90d": np.where(tickets > 0, np.round(resolution, 1), np.nan),
    }
    resolution_filled = np.nan_to_num(obs["ticket_avg_resolution_hrs_90d"], nan=0.0)
    logit = (
        -1.2
        + 1.1 * obs["failed_payments_90d"]
        + 0.25 * obs["rebuffer_events_7d"]
        + 0.16 * obs["support_tickets_90d"]
        + 0.012 * resolution_filled
        - 1.6 * np.log1p(obs["months_active"]) / np.log(13)
        + 0.14 * (obs["monthly_fee"] - 14.0)
        - 0.02 * obs["watch_hours_30d"]
        - 0.008 * obs["avg_session_mins_7d"]
        + 0.45 * fiber
        + 0.25 * obs["paperless_billing"]
        - 0.3 * obs["plan_stream_movies"]
        + 0.03 * obs["skips_7d"]
        + s.churn_shift
    )
    obs["churn_label"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return obs


def simulate(seed: int = SEED) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    panel = Panel(rng, N_USERS, months_active=rng.integers(0, 36, N_USERS))
    months: dict[str, dict[str, np.ndarray]] = {}
    schedule = [STEADY] * BURN_IN_MONTHS + [SCENARIOS[m] for m in MONTHS]
    names = [None] * BURN_IN_MONTHS + list(MONTHS)
    for name, scenario in zip(names, schedule):
        panel.apply_plan_changes(scenario)
        obs = observe(panel, scenario)
        if name is not None:
            months[name] = {"user_id": panel.user_id.copy(), **obs}
        stay = obs["churn_label"] == 0
        panel.keep(stay)
        panel.traits["months_active"] = panel.traits["months_active"] + 1
        panel.join(N_USERS - int(stay.sum()))
    return months


def to_csv(month: str, columns: dict[str, np.ndarray]) -> str:
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    as_of = MONTH_AS_OF[month].isoformat()
    n = len(columns["user_id"])
    cells = []
    for column in COLUMNS:
        if column == "as_of":
            cells.append([as_of] * n)
            continue
        values = columns[column]
        if values.dtype.kind == "f":
            cells.append(["" if np.isnan(v) else f"{v:.2f}".rstrip("0").rstrip(".") for v in values])
        else:
            cells.append([str(v) for v in values])
    for row in zip(*cells):
        out.write(",".join(f'"{v}"' if "," in v else v for v in row) + "\n")
    return out.getvalue()


def render(seed: int = SEED) -> dict[str, str]:
    return {month: to_csv(month, cols) for month, cols in simulate(seed).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the bundled files instead of writing them")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the package's data folder)")
    args = parser.parse_args(argv)
    out = args.out or data_dir()
    stale = []
    for month, text in render().items():
        path = out / f"{month}.csv"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path} ({text.count(chr(10)) - 1} rows)")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python -m streamflow_data.generate)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
