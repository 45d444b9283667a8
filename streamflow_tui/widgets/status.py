"""The status line and the target-down banner."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from ..core.recording import Recorder
from ..core.replay import Replay, ReplayFrame
from ..core.results import Snapshot
from ..core.versions import VersionChange
from .quiet import set_if_changed

RECENT_CHANGE_S = 600  # a model change is flagged in the status line this long


def ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class StatusLine(Static):
    """One line: what is watched and whether it answers. Parts carry a rank; on a narrow terminal the
    least important go first (source details, then the API's address), never the state or the load."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; }
    """

    def show(
        self,
        snapshot: Snapshot | None,
        *,
        age_s: float | None,
        load: str,
        paused: bool,
        change: VersionChange | None = None,
        mode: Text | None = None,
    ) -> None:
        parts: list[tuple[int, Text]] = [(0, Text(" StreamFlow ", style="bold reverse"))]
        if mode is not None:  # a replay: which moment is shown
            parts.append((0, mode))
        target = snapshot.api.url if snapshot and snapshot.api.url else "–"
        parts.append((2, Text(f"api {target.removeprefix('http://')}")))
        if snapshot and snapshot.targets:  # the API's health as Prometheus scrapes it
            up_count = sum(up for _, up in snapshot.targets)
            parts.append(
                (
                    1,
                    Text(
                        f"{up_count}/{len(snapshot.targets)} up",
                        style="bold green" if up_count == len(snapshot.targets) else "bold red",
                    ),
                )
            )
        up = snapshot.ok if snapshot else None
        state = Text()
        if snapshot and snapshot.source == "prometheus":
            up = bool(snapshot.prometheus.up) and snapshot.prometheus.error is None
            state.append("prom ")
        state.append("● UP" if up else ("● DOWN" if up is False else "● …"), style="bold green" if up else "bold red")
        if age_s is not None:
            state.append(f" {age_s:.1f} s")
        parts.append((0, state))
        choice = snapshot.metrics if snapshot else None
        if choice is not None and choice.found and choice.family != "StreamFlow API":  # say it when it is not ours
            unit = f" {choice.latency.unit}" if choice.latency and choice.latency.unit != "s" else ""
            parts.append((2, Text(f"{choice.family or 'detected'}{unit}", style="bold" if choice.preset else "")))
        source = Text(f"source {snapshot.source if snapshot else '–'}")
        if snapshot and snapshot.scrape_interval_s:
            source.append(f" · {snapshot.scrape_interval_s:g} s scrapes, window {snapshot.window_seconds:g} s")
        updates = snapshot.counter_updates if snapshot else None
        if updates is not None:  # stepwise counters (Ray Serve): the window is between two of their updates
            window = f"window {updates.window_s:.3g} s" if updates.window_s else "waiting for two updates"
            source.append(f" · counters every ~{updates.period_s:.3g} s, {window}", style="yellow")
        parts.append((3, source))
        if snapshot and snapshot.fallback:
            parts.append((1, Text("(fallback)", style="bold yellow")))
        model = snapshot.model if snapshot else None
        if model and model.version:
            # The version stays at any width (which model answers is the first question after a promotion); the
            # month it serves and the version it replaced go before it.
            parts.append((0, Text(f"model {model.version}")))
            if model.served_month:
                parts.append((2, Text(f"serving {model.served_month}", style="dim")))
            since = snapshot.taken_at.timestamp() - change.at if change and snapshot else None  # before the newest data
            if change and since is not None and since < RECENT_CHANGE_S:
                parts.append((0, Text(f"new {ago(since)} ago", style="bold black on yellow")))
                parts.append((1, Text(f"was {change.old}", style="yellow")))
        parts.append((0, Text(f"load {load}")))
        if paused:
            parts.append((0, Text("PAUSED", style="bold yellow reverse")))
        width = self.size.width or 200
        for drop in (3, 2, 1):
            if sum(p.cell_len + 2 for _, p in parts) <= width:
                break
            parts = [(rank, p) for rank, p in parts if rank < drop]
        set_if_changed(self, Text("  ").join(p for _, p in parts))


class Banner(Static):
    """Visible only while the target cannot be read."""

    DEFAULT_CSS = """
    Banner { display: none; height: auto; background: $error; color: $text; padding: 0 1; text-style: bold; }
    Banner.visible { display: block; }
    """

    def show_for(self, s: Snapshot | None, interval: float) -> None:
        """Why the target cannot be read, or the target's own trouble (no metrics, Prometheus cannot scrape it)."""
        message = None
        if s is not None and not s.ok:
            target = s.prometheus if s.source == "prometheus" else s.api
            message = (
                f"⚠ {target.url or 'target'} cannot be read: {target.error or 'down'}"
                f" — retrying every {interval:g} s, history kept"
            )
        elif s is not None and s.api.error:
            message = f"⚠ {s.api.error}"
        self.show(message)

    def show(self, message: str | None) -> None:
        self.set_class(message is not None, "visible")
        # Height auto: a new message may wrap differently, so it gets a layout pass — but only on change.
        set_if_changed(self, message or "", layout=True)


def mode_text(replay: Replay | None, frame: ReplayFrame | None, recorder: Recorder | None) -> Text | None:
    """A replay's moment and speed, or the recording being made; None in a plain live session."""
    if replay is not None:
        moment = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(frame.t)) if frame else "…"
        where = f" {frame.index + 1}/{frame.count}" if frame else ""
        return Text(
            f"{'▶' if replay.playing else '⏸'} REPLAY {moment} ×{replay.speed:g}{where}", style="bold black on cyan"
        )
    if recorder is not None:
        return Text(f"● REC {Path(recorder.path).name}", style="bold white on red")
    return None
