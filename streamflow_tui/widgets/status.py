"""The status line and the target-down banner."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..core.results import Snapshot
from ..core.versions import VersionChange
from .quiet import set_if_changed


RECENT_CHANGE_S = 600  # a model change is flagged in the status line this long


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class StatusLine(Static):
    def show(self, snapshot: Snapshot | None, *, age_s: float | None, fallback: str | None, load: str, paused: bool,
             change: VersionChange | None = None) -> None:  # fmt: skip
        t = Text()
        t.append(" StreamFlow ", style="bold reverse")
        target = snapshot.api.url if snapshot and snapshot.api.url else "–"
        t.append(f"  api {target.removeprefix('http://')} ")
        if snapshot and snapshot.targets:  # the API's health as Prometheus scrapes it
            up_count = sum(up for _, up in snapshot.targets)
            t.append(f"{up_count}/{len(snapshot.targets)} up ", style="bold green" if up_count == len(snapshot.targets) else "bold red")
        up = snapshot.ok if snapshot else None
        if snapshot and snapshot.source == "prometheus":
            up = bool(snapshot.prometheus.up) and snapshot.prometheus.error is None
            t.append("prom ")
        t.append("● UP" if up else ("● DOWN" if up is False else "● …"), style="bold green" if up else "bold red")
        if age_s is not None:
            t.append(f" ({age_s:.1f} s)")
        choice = snapshot.metrics if snapshot else None
        if choice is not None and choice.found and choice.family != "StreamFlow API":  # say it when it is not ours
            unit = f" {choice.latency.unit}" if choice.latency and choice.latency.unit != "s" else ""
            t.append(f"  {choice.family or 'detected'}{unit}", style="bold" if choice.preset else "")
        source = snapshot.source if snapshot else "–"
        t.append(f"  source {source}")
        if snapshot and snapshot.scrape_interval_s:
            t.append(f" · {snapshot.scrape_interval_s:g} s scrapes, window {snapshot.window_seconds:g} s")
        if fallback:
            t.append(" (fallback)", style="bold yellow")
        model = snapshot.model if snapshot else None
        if model and model.version:
            t.append(f"  model {model.version}" + (f"·{model.served_month}" if model.served_month else ""))
            ago = snapshot.taken_at.timestamp() - change.at if change else None  # before the newest data
            if change and ago is not None and ago < RECENT_CHANGE_S:
                t.append(f" (new {_ago(ago)} ago, was {change.old})", style="bold black on yellow")
        t.append(f"  load {load}")
        if paused:
            t.append("  PAUSED", style="bold yellow reverse")
        set_if_changed(self, t)


class Banner(Static):
    """Visible only while the target cannot be read."""

    def show(self, message: str | None) -> None:
        self.set_class(message is not None, "visible")
        # Height auto: a new message may wrap differently, so it gets a layout pass — but only on change.
        set_if_changed(self, message or "", layout=True)
