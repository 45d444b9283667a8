"""What keeps growing in the console's memory once its history is full, on a compressed clock.

The bundled API runs on a free loopback port, ``python -m loadgen.cli`` sends it a steady
load, and the console polls it at ``--interval`` with ``--history`` seconds of history
(0.25 s / 60 s: the history is full after a minute, and an hour's worth of polls at 1 s,
3,600, takes 15 minutes). Once the history is full (plus ``--settle`` seconds) a sampler
thread inside the console process takes a base measurement, then one every ``--every``
seconds: RSS, tracemalloc's traced memory and the top allocation sites by growth since the
base (``compare_to(base, "traceback")`` and by line), ``gc.get_count()``, the number of
gc-tracked objects and the object types whose count grew, a few of the app's own
structures (workers, timers, message queues, notifications). At the end ``malloc_trim(0)``
shows how much of the RSS was freed memory the allocator had kept.

Two ways to run the console:

* ``--mode headless`` (default): Textual's ``app.run_test(size=(160, 48))``, as
  ``bench/console.py`` does (notifications and tooltips on, as in a terminal);
* ``--mode pty``: ``App.run()`` in a child process on a 160×48 pseudo-terminal, its
  output read and discarded: the real driver, which also turns every frame into escape
  sequences (the headless driver skips that step).

``--view 2`` presses 2 (Traffic) once the app runs; the default is the first screen
(Overview). ``--patch NAME`` applies a candidate fix by monkeypatching (see ``PATCHES``)
before the app is created, so a patched and an unpatched run can be compared.

tracemalloc (25 frames) slows the console about 12× (0.25 instead of 3.5 polls a second) and its
tables and the snapshots held make the RSS of such a run meaningless: RSS figures come from
``--no-tracemalloc`` runs; ``--trace-from-full`` starts tracing once the history is full (what was
allocated before and is replaced after shows as growth for one history's worth of polls).

    nice -n 10 .venv/bin/python bench/console_memory.py --mode pty --no-tracemalloc --minutes 14 --every 120 --out /tmp/cm_a
    nice -n 10 .venv/bin/python bench/console_memory.py --mode pty --no-tracemalloc --patch ansi_key_without_meta ...
    nice -n 10 .venv/bin/python bench/console_memory.py --mode pty --trace-from-full --minutes 15 --settle 60 --every 180 ...
    nice -n 10 .venv/bin/python bench/console_memory.py --no-tracemalloc --patch count_styles_by_widget --minutes 6 ...
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = 25
if __name__ == "__main__" and "--no-tracemalloc" not in sys.argv and "--trace-from-full" not in sys.argv:
    tracemalloc.start(FRAMES)  # before the app's modules are imported: every allocation has its traceback

sys.path.insert(0, str(Path(__file__).parent))
ROOT = Path(__file__).resolve().parent.parent
SITE = str(Path(tracemalloc.__file__).parent)  # the standard library


# -- measurements ------------------------------------------------------------------------------
def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def malloc_trim() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except OSError:
        return False


def short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if filename.startswith(SITE):
        return "stdlib/" + filename[len(SITE) + 1 :]
    return filename


def is_ours(filename: str) -> bool:
    return "streamflow_tui" in filename or "loadgen" in filename and "site-packages" not in filename


def take_snapshot() -> tracemalloc.Snapshot:
    snap = tracemalloc.take_snapshot()
    return snap.filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, __file__),
            tracemalloc.Filter(False, "<unknown>"),
        )
    )


def type_counts() -> collections.Counter:
    objects = gc.get_objects()
    counts = collections.Counter(type(o).__name__ for o in objects)
    counts["<all tracked>"] = len(objects)
    del objects
    return counts


CONTAINERS = (dict, list, set, collections.deque, collections.OrderedDict, collections.defaultdict)


def is_container(o) -> bool:
    return type(o) in CONTAINERS or type(o).__name__ in (
        "LRUCache",
        "FIFOCache",
        "WeakValueDictionary",
        "WeakKeyDictionary",
        "WeakSet",
    )


def container_lengths(objects) -> dict[int, tuple[str, int]]:
    """id -> (type, len) of every gc-tracked container, to find the ones that keep growing."""
    out = {}
    for o in objects:
        if is_container(o):
            try:
                out[id(o)] = (type(o).__name__, len(o))
            except Exception:
                pass
    return out


def lru_caches(objects) -> dict[str, int]:
    """functools.lru_cache wrappers by qualified name: their current size (the dict inside is not gc-visible)."""
    out = {}
    for o in objects:
        if type(o).__name__ == "_lru_cache_wrapper":
            try:
                out[f"{o.__module__}.{o.__qualname__}@{id(o):x}"] = o.cache_info().currsize
            except Exception:
                pass
    return out


def describe(r, child) -> str:
    """One referrer of ``child``, as a line."""
    name = type(r).__name__
    size = ""
    try:
        if is_container(r) or isinstance(r, (tuple,)):
            size = f"[len {len(r)}]"
    except Exception:
        pass
    where = ""
    if isinstance(r, dict):
        keys = [k for k, v in list(r.items())[:100000] if v is child]
        if keys:
            where = f" under key {str(keys[0])[:60]!r}"
        else:
            try:
                if child in r:
                    where = " (as a key)"
            except TypeError:
                pass
        # an instance's or a module's __dict__
        for owner in gc.get_referrers(r):
            if getattr(owner, "__dict__", None) is r:
                return f"attribute{where} of {type(owner).__module__}.{type(owner).__qualname__} (module {getattr(owner, '__name__', '')})"
    elif hasattr(type(r), "__slots__"):
        for slot in getattr(type(r), "__slots__", ()):
            if getattr(r, slot, None) is child:
                where = f" slot {slot}"
    return f"{type(r).__module__}.{name}{size}{where}"


def owner_chains(obj, ignore: list, depth: int = 5, width: int = 2, indent: str = "      ") -> list[str]:
    """Who holds ``obj``: referrers, their referrers… (frames and the sampler's own lists left out)."""
    import types as _types

    lines: list[str] = []
    ignored = {id(x) for x in ignore}

    def walk(o, level: int, seen: set[int]) -> None:
        if level >= depth:
            return
        refs = [
            r
            for r in gc.get_referrers(o)
            if id(r) not in ignored
            and id(r) not in seen
            and not isinstance(r, (_types.FrameType, _types.CoroutineType))
            and type(r).__name__ != "list_iterator"
        ]
        ignored.add(id(refs))
        for k in range(min(width, len(refs))):
            r = refs[k]
            lines.append(f"{indent}{'  ' * level}<- {describe(r, o)}")
            if type(r).__name__ == "module":
                continue
            walk(r, level + 1, seen | {id(r)})
        if len(refs) > width:
            lines.append(f"{indent}{'  ' * level}   (+{len(refs) - width} more referrers)")

    walk(obj, 0, {id(obj)})
    return lines


def app_structures(app) -> dict:
    """The app's own containers that could grow per poll."""
    out = {
        "polls": app.state.polls,
        "poll_errors": app.state.poll_errors,
        "workers": len(app.workers),
        "timeline_points": len(app.state.timeline.points),
        "version_changes": len(app.state.versions.changes),
        "rps_seen": app.state.snapshot.requests.rps if app.state.snapshot is not None else None,
    }
    try:
        source = app._source
        out["store_series"] = len(source._store)
        out["candidates"] = len(source._candidates)
    except Exception:
        pass
    for name in ("_timers", "_notifications", "_registry"):
        value = getattr(app, name, None)
        if value is not None:
            try:
                out[f"app.{name}"] = len(value)
            except TypeError:
                pass
    if STYLES_BY_WIDGET:
        out["styles_by_widget"] = dict(
            sorted(((k, len(v)) for k, v in STYLES_BY_WIDGET.items()), key=lambda kv: -kv[1])[:12]
        )
    try:
        out["app.queue"] = app._message_queue.qsize()
        out["widgets"] = len(list(app.screen.walk_children()))
        out["widget_queues"] = sum(w._message_queue.qsize() for w in app.screen.walk_children())
    except Exception:
        pass
    return out


def format_traceback(tb: tracemalloc.Traceback, limit: int) -> list[str]:
    """Most recent frame first; every StreamFlow frame kept even past ``limit``."""
    lines = []
    for i, frame in enumerate(reversed(list(tb))):
        ours = is_ours(frame.filename)
        if i < limit or ours:
            lines.append(f"      {'*' if ours else ' '} {short(frame.filename)}:{frame.lineno}")
    if len(tb) > limit:
        lines.append(f"        ({len(tb)} frames)")
    return lines


class Sampler(threading.Thread):
    """Waits for the history to fill, then measures every ``every`` seconds until ``end`` (monotonic)."""

    def __init__(self, app, args, report: Path, done: threading.Event):
        super().__init__(name="memory-sampler", daemon=True)
        self.app, self.args, self.report, self.done = app, args, report, done
        self.samples: list[dict] = []
        self.top: list[dict] = []
        self.text: list[str] = []
        self.log = None  # a file for the lines as they come (the pty child: Textual owns stdout)
        self.t0 = time.monotonic()

    def say(self, line: str = "") -> None:
        self.text.append(line)
        print(line, file=self.log or sys.__stdout__, flush=True)

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # shown, never a silent hang of the parent
            import traceback

            self.say("sampler failed: " + "".join(traceback.format_exception(exc)))
        finally:
            self.report.with_suffix(".txt").write_text("\n".join(self.text) + "\n")
            self.report.with_suffix(".json").write_text(
                json.dumps({"args": vars(self.args), "samples": self.samples, "top": self.top}, indent=1)
            )
            self.done.set()

    def _measure(self, label: str) -> dict:
        s = {
            "label": label,
            "t_s": round(time.monotonic() - self.t0, 1),
            "rss_mb": round(rss_mb(), 2),
            "gc_count": gc.get_count(),
            **app_structures(self.app),
        }
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            s["traced_mb"] = round(current / 2**20, 2)
            s["traced_peak_mb"] = round(peak / 2**20, 2)
            s["tracemalloc_overhead_mb"] = round(tracemalloc.get_tracemalloc_memory() / 2**20, 2)
        objects = gc.get_objects()
        s["gc_objects"] = len(objects)
        s["lru"] = lru_caches(objects)  # bounded caches filling up look like growth until they are full
        s["lru_total"] = sum(s["lru"].values())
        del objects
        s["gc_collected"] = gc.collect()  # after the figures above: garbage waiting for a full collection counts there
        s["gc_objects_after_collect"] = len(gc.get_objects())
        s["rss_after_collect_mb"] = round(rss_mb(), 2)
        return s

    def _run(self) -> None:
        app, args = self.app, self.args
        while len(app.state.timeline.points) < app.config.history_points:
            time.sleep(0.5)
            if time.monotonic() - self.t0 > args.minutes * 60:
                self.say(
                    f"the history never filled: {len(app.state.timeline.points)}/{app.config.history_points} points"
                )
                return
        full = self._measure("history full")
        self.samples.append(full)
        self.say(f"history full at {full['t_s']} s after {full['polls']} polls: RSS {full['rss_mb']} MB")
        if args.trace_from_full:
            tracemalloc.start(
                FRAMES
            )  # from here on: allocations before are not traced, so the settle time must cover a history
            self.say(f"tracemalloc started ({FRAMES} frames)")
        time.sleep(args.settle)
        base = self._measure("base")
        base_types = type_counts()
        base_ids, base_containers, base_lru = set(), {}, {}
        if args.owners:
            objects = gc.get_objects()
            base_ids = {id(o) for o in objects}
            base_containers = container_lengths(objects)
            base_lru = lru_caches(objects)
            del objects
        base_snap = take_snapshot() if tracemalloc.is_tracing() else None
        self.samples.append(base)
        self.say(f"base at {base['t_s']} s: {json.dumps({k: v for k, v in base.items() if k != 'lru'})}")
        previous_snap = base_snap
        end = self.t0 + args.minutes * 60
        n = 0
        while time.monotonic() + args.every <= end + 1:
            time.sleep(args.every)
            n += 1
            last = time.monotonic() + args.every > end + 1
            s = self._measure(f"snapshot {n}")
            types = type_counts()
            s["types_grown"] = {
                k: [base_types.get(k, 0), v]
                for k, v in sorted(types.items(), key=lambda kv: base_types.get(kv[0], 0) - kv[1])
                if v - base_types.get(k, 0) >= args.min_objects
            }
            if last and args.owners:
                self.say("   (the ownership analysis below ran after these figures)")
            if last:
                s["rss_before_trim_mb"] = round(rss_mb(), 2)
                s["malloc_trim_released"] = malloc_trim()
                s["rss_after_trim_mb"] = round(rss_mb(), 2)
            self.samples.append(s)
            polls = s["polls"] - base["polls"]
            growth = s["rss_mb"] - base["rss_mb"]
            self.say("")
            self.say(
                f"== {s['label']} at {s['t_s']} s, {polls} polls after base ({polls / (s['t_s'] - base['t_s']):.2f}/s): "
                f"RSS {s['rss_mb']} MB ({growth:+.2f} MB, {100 * growth / base['rss_mb']:+.2f} %; "
                f"per 3,600 polls {100 * growth / base['rss_mb'] * 3600 / max(1, polls):+.2f} %)"
            )
            self.say("   " + json.dumps({k: v for k, v in s.items() if k not in ("types_grown", "lru")}))
            lru_grown = sorted(
                ((v - base["lru"].get(k, 0), k, base["lru"].get(k, 0), v) for k, v in s["lru"].items()), reverse=True
            )[:10]
            self.say(
                "   lru_cache entries grown since base: "
                + ", ".join(f"{k.split('@')[0]} {b}→{v}" for d, k, b, v in lru_grown if d > 0)
            )
            self.say("   object types grown since base (base → now): " + json.dumps(s["types_grown"]))
            if args.owners and (last or args.owners == "each"):
                self._owners(s, base_ids, base_containers, base_lru, last)
            if base_snap is not None:
                snap = take_snapshot()
                self._sites(snap, base_snap, "lineno", f"top lines since base ({s['label']})", args.top, 0)
                self._sites(snap, previous_snap, "lineno", "top lines since the previous snapshot", 8, 0)
                stats = self._sites(
                    snap,
                    base_snap,
                    "traceback",
                    f"top tracebacks since base ({s['label']})",
                    args.top,
                    FRAMES if last else 10,
                )
                if last:
                    self.top = [
                        {
                            "size_diff": st.size_diff,
                            "count_diff": st.count_diff,
                            "size": st.size,
                            "traceback": [f"{short(f.filename)}:{f.lineno}" for f in reversed(list(st.traceback))],
                        }
                        for st in stats
                    ]
                previous_snap = snap
                del snap
        self.say("")
        self.say("RSS: " + ", ".join(f"{x['label']} {x['rss_mb']}" for x in self.samples))

    def _owners(self, s: dict, base_ids: set, base_containers: dict, base_lru: dict, last: bool) -> None:
        """Containers alive since the base that grew, who holds them; who holds new objects of grown types."""
        objects = gc.get_objects()
        ignore = [objects, base_ids, base_containers, base_lru, self.samples, s]
        now = container_lengths(objects)
        grown = sorted(
            (
                (n - base_containers[i][1], i, t, base_containers[i][1], n)
                for i, (t, n) in now.items()
                if i in base_containers
                and base_containers[i][0] == t
                and n - base_containers[i][1] >= self.args.min_objects
            ),
            reverse=True,
        )[: self.args.top]
        s["containers_grown"] = [[t, b, n] for _, _, t, b, n in grown]
        self.say("   -- containers alive since the base that grew (type, len at base → now), and who holds them:")
        by_id = {id(o): o for o in objects if id(o) in {g[1] for g in grown}}
        for d, i, t, b, n in grown:
            obj = by_id.get(i)
            self.say(f"   {t} {b} → {n} (+{d})")
            if obj is not None:
                sample = (
                    list(obj.keys())[-3:]
                    if hasattr(obj, "keys")
                    else list(obj)[-3:]
                    if not isinstance(obj, dict)
                    else []
                )
                self.say(f"      newest: {str(sample)[:300]}")
                for line in owner_chains(obj, ignore + [by_id]):
                    self.say(line)
        lru = lru_caches(objects)
        lru_grown = {k: [base_lru.get(k, 0), v] for k, v in lru.items() if v > base_lru.get(k, 0)}
        s["lru_caches_grown"] = lru_grown
        self.say("   -- functools.lru_cache sizes grown (base → now): " + json.dumps(lru_grown))
        # New objects of the types that grew the most: who keeps them?
        kinds = [k for k in s.get("types_grown", {}) if not k.startswith("<")][: self.args.owner_types]
        for kind in kinds:
            fresh = [o for o in objects if type(o).__name__ == kind and id(o) not in base_ids]
            self.say(f"   -- {len(fresh)} {kind} objects created since the base and alive; who holds a few of them:")
            step = max(1, len(fresh) // 3)
            picks = fresh[::step][:3]
            for k in range(len(picks)):
                self.say(f"      {kind}: {repr(picks[k])[:160]}")
                for line in owner_chains(picks[k], ignore + [fresh, picks], depth=self.args.owner_depth):
                    self.say(line)
            del fresh, picks
        del objects

    def _sites(self, snap, base, key: str, title: str, top: int, frames: int):
        stats = [st for st in snap.compare_to(base, key) if st.size_diff > 0][:top]
        total = sum(st.size_diff for st in snap.compare_to(base, "filename"))
        self.say(f"   -- {title}: traced total {total / 1024:+.1f} KiB")
        for st in stats:
            frame = st.traceback[-1] if key == "traceback" else st.traceback[0]
            self.say(
                f"   {st.size_diff / 1024:+9.1f} KiB {st.count_diff:+7d} blocks (now {st.size / 1024:.1f} KiB, {st.count} blocks) "
                f"{short(frame.filename)}:{frame.lineno}"
            )
            if frames:
                for line in format_traceback(st.traceback, frames):
                    self.say(line)
        return stats


# -- candidate fixes, applied by monkeypatching ------------------------------------------------------
PATCHES: dict[str, callable] = {}


def patch(fn):
    PATCHES[fn.__name__] = fn
    return fn


@patch
def ansi_key_without_meta() -> None:
    """Textual's ``Strip.render_ansi`` (lru_cache, 16,384 entries) keyed on the style *without* its meta and link.

    Textual renders every segment of a ``Content`` (Static, Label…) with a Rich style whose meta holds the
    segment's ``offset`` (x, y) for text selection, and Rich styles hash and compare their meta. So the
    cache that turns a style into SGR codes gets one entry per (colours, attributes, x, y) ever painted: a
    Static whose text changes keeps adding entries, each holding a Style, its Colors and pickled meta,
    until 16,384. The SGR codes depend on colours and attributes only: keyed on those, the cache holds
    one entry per distinct look.
    """
    from textual.strip import Strip

    cached = Strip.__dict__["render_ansi"].__func__  # the lru_cache wrapper

    def render_ansi(cls, style, color_system):
        key = style.clear_meta_and_links() if (style._meta is not None or style._link) else style
        ansi = style._ansi = cached(cls, key, color_system)
        return ansi

    Strip.render_ansi = classmethod(render_ansi)


STYLES_BY_WIDGET: dict[str, set[int]] = {}


@patch
def count_styles_by_widget() -> None:
    """Not a fix, a diagnostic (it costs memory): the distinct Rich styles carrying meta (the offset Textual
    adds for text selection) that each widget has rendered so far — what it feeds ``Strip.render_ansi``."""
    from textual.widget import Widget

    original = Widget._render_content

    def _render_content(self) -> None:
        original(self)
        seen = STYLES_BY_WIDGET.setdefault(f"{type(self).__name__}#{self.id}", set())
        for strip in self._render_cache.lines:
            for segment in strip:
                style = segment.style
                if style is not None and style._meta is not None:
                    seen.add(hash(style))

    Widget._render_content = _render_content


def apply_patches(names: list[str]) -> None:
    for name in names:
        PATCHES[name]()


# -- the console, in this process (headless) or a child on a pty --------------------------------------
def console_config(url: str, args):
    import tempfile

    from streamflow_tui.core.config import ConsoleConfig

    tmp = tempfile.mkdtemp(prefix="console-memory-")
    return ConsoleConfig(api_url=url, interval=args.interval, history=args.history, reports_dir=tmp, export_dir=tmp)


async def run_headless(url: str, args) -> None:
    import asyncio

    from streamflow_tui.app import create_app

    apply_patches(args.patch)
    app = create_app(console_config(url, args))
    done = threading.Event()
    async with app.run_test(size=(160, 48), notifications=True, tooltips=True) as pilot:
        if args.view != "1":
            await pilot.press(args.view)
        sampler = Sampler(app, args, Path(args.out), done)
        sampler.start()
        while not done.is_set():
            await asyncio.sleep(0.5)
        await pilot.press("q")


def run_child(args) -> None:
    """``--child URL``: the console on this process's terminal (the pty the parent made), with the sampler."""
    from streamflow_tui.app import create_app

    apply_patches(args.patch)
    app = create_app(console_config(args.child, args))
    done = threading.Event()
    sampler = Sampler(app, args, Path(args.out), done)
    sampler.log = open(Path(args.out).with_suffix(".log"), "w", buffering=1)  # the sampler's lines (Textual owns fd 1)

    def quit_when_done() -> None:
        done.wait()
        app.call_from_thread(app.exit)

    threading.Thread(target=quit_when_done, daemon=True).start()
    sampler.start()
    app.run()


def run_pty(url: str, args) -> int:
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    argv = [sys.executable, __file__, "--child", url, *child_args(args)]
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    written = [0]

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            written[0] += len(data)

    threading.Thread(target=drain, daemon=True).start()
    if args.view != "1":
        time.sleep(8)  # the app is up and has mounted its views
        os.write(master, args.view.encode())
    try:
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    print(f"child exited {code}; {written[0] / 1e6:.1f} MB of terminal output read")
    log = Path(args.out).with_suffix(".log")
    if log.exists():
        print(log.read_text())
    return code


def child_args(args) -> list[str]:
    out = [
        "--interval",
        str(args.interval),
        "--history",
        str(args.history),
        "--minutes",
        str(args.minutes),
        "--every",
        str(args.every),
        "--settle",
        str(args.settle),
        "--top",
        str(args.top),
        "--out",
        args.out,
        "--view",
        args.view,
        "--min-objects",
        str(args.min_objects),
        "--owner-types",
        str(args.owner_types),
        "--owner-depth",
        str(args.owner_depth),
    ]
    if args.owners:
        out += ["--owners", args.owners]
    for name in args.patch:
        out += ["--patch", name]
    if args.no_tracemalloc:
        out.append("--no-tracemalloc")
    if args.trace_from_full:
        out.append("--trace-from-full")
    return out


def watch_signals() -> None:
    """A SIGTERM or SIGHUP stops the run as Ctrl-C does, so the API, the load and a pty child are stopped too
    (on a shared machine these runs have been stopped from outside), and says so."""
    import signal

    def stop(signo, frame) -> None:
        print(f"stopped by signal {signo}", flush=True)
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("headless", "pty"), default="headless")
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--history", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--minutes", type=float, default=14.0, help="whole run, from the console's start")
    parser.add_argument("--every", type=float, default=180.0, help="seconds between snapshots after the base")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds after the history is full before the base")
    parser.add_argument("--view", default="1", help="key pressed at the start: 1 Overview, 2 Traffic, 3 Model")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument(
        "--min-objects", type=int, default=20, help="object types shown when grown by at least this many"
    )
    parser.add_argument(
        "--owners",
        choices=("last", "each"),
        help="who holds what grew: at the last snapshot, or at each "
        "(its own lists and walks raise the RSS of the following snapshots)",
    )
    parser.add_argument(
        "--owner-types", type=int, default=4, help="grown types whose new objects are traced to their holders"
    )
    parser.add_argument("--owner-depth", type=int, default=6)
    parser.add_argument("--patch", action="append", default=[], choices=sorted(PATCHES))
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="RSS without tracemalloc's own memory and slowdown"
    )
    parser.add_argument(
        "--trace-from-full",
        action="store_true",
        help="start tracemalloc only once the history is full "
        "(it slows the console ~10×: from the start, the history would take most of the run to fill)",
    )
    parser.add_argument("--out", default="/tmp/console_memory")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return

    import asyncio
    import subprocess

    from common import machine, uvicorn_server

    print(f"{machine()} · {json.dumps(vars(args))}", flush=True)
    watch_signals()
    with uvicorn_server({}) as url:
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loadgen.cli",
                "--url",
                url + "/predict",
                "--rate",
                str(args.rate),
                "--duration",
                str(args.minutes * 60 + 60),
                "--no-progress",
                "--json",
            ],
            stdout=open(Path(args.out).with_suffix(".load.json"), "w"),
        )
        try:
            if args.mode == "headless":
                asyncio.run(run_headless(url, args))
            else:
                run_pty(url, args)
        finally:
            load.terminate()
            load.wait()


if __name__ == "__main__":
    main()
