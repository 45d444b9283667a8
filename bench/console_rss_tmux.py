"""The console's RSS in a real terminal over an hour, as a user runs it: with and without the Textual patch.

One bundled API on a free loopback port, one ``python -m loadgen.cli`` at ``--rate`` req/s, and
two consoles watching it, each in its own tmux session (160×48, the real terminal driver) at the
defaults (``--interval 1``, ``--history 600``):

* ``patched``: ``streamflow-tui`` as shipped (``streamflow_tui/textual_patches.py`` applied);
* ``textual``: the same console with Textual's own ``Strip.render_ansi`` put back (the baseline).

Both show ``--view`` (1 Overview, 2 Traffic). Each console's RSS (``/proc/PID/status``) is read every
``--every`` seconds. The figure is growth after the history has filled: from the first sample at
``--history`` + 60 s to the last one.

    nice -n 5 .venv/bin/python bench/console_rss_tmux.py --minutes 70 --out /tmp/rss_tmux.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, uvicorn_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UNPATCHED = (
    "import sys, streamflow_tui.app; from textual.strip import Strip; "
    "Strip.render_ansi = classmethod(Strip.render_ansi.cache); "
    "from streamflow_tui.cli import main; sys.exit(main())"
)


def rss_mb(pid: int) -> float | None:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def console_pid(session: str, deadline: float) -> int:
    """The console's own process: the tmux pane's shell command is the console itself (no shell between)."""
    while time.monotonic() < deadline:
        out = subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return int(out.stdout.split()[0])
        time.sleep(0.2)
    raise RuntimeError(f"tmux session {session} did not start")


def start_console(session: str, code: str, url: str, view: str, tmp: Path) -> int:
    args = [
        "--api-url",
        url,
        "--interval",
        "1",
        "--history",
        "600",
        "--export-dir",
        str(tmp),
        "--reports-dir",
        str(tmp),
    ]
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-c", code, *args])
    env = f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color COLORTERM=truecolor exec {command}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", env], check=True)
    pid = console_pid(session, time.monotonic() + 10)
    if view != "1":
        deadline = time.monotonic() + 30
        while "Overview" not in subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                               text=True).stdout and time.monotonic() < deadline:  # fmt: skip
            time.sleep(0.5)
        subprocess.run(["tmux", "send-keys", "-t", session, view], check=True)
    return pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=70.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--every", type=float, default=30.0)
    parser.add_argument("--view", default="1")
    parser.add_argument("--out", default="/tmp/console_rss_tmux.json")
    args = parser.parse_args()
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="rss-tmux-"))
    print(f"{machine()} · {json.dumps(vars(args))}", flush=True)
    patched_code = "import sys; from streamflow_tui.cli import main; sys.exit(main())"
    sessions = {"patched": patched_code, "textual": UNPATCHED}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sessions}
    with uvicorn_server({}) as url:
        load = subprocess.Popen([sys.executable, "-m", "loadgen.cli", "--url", url + "/predict", "--rate", str(args.rate),
                                 "--duration", str(args.minutes * 60 + 30), "--no-progress", "--json"],
                                stdout=open(tmp / "load.json", "w"), cwd=ROOT)  # fmt: skip
        pids = {}
        try:
            for name, code in sessions.items():
                pids[name] = start_console(f"rss-{name}-{os.getpid()}", code, url, args.view, tmp)
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < args.minutes * 60:
                for name, pid in pids.items():
                    value = rss_mb(pid)
                    if value is None:
                        raise RuntimeError(f"console {name} (pid {pid}) exited after {elapsed:.0f} s")
                    samples[name].append((round(elapsed, 1), round(value, 2)))
                print(
                    f"{elapsed / 60:5.1f} min  " + "  ".join(f"{n} {s[-1][1]:.1f} MB" for n, s in samples.items()),
                    flush=True,
                )
                Path(args.out).write_text(json.dumps({"args": vars(args), "machine": machine(), "samples": samples}))
                time.sleep(args.every)
        finally:
            for name in pids:
                subprocess.run(["tmux", "kill-session", "-t", f"rss-{name}-{os.getpid()}"], capture_output=True)
            load.terminate()
            load.wait()
    full = 600 + 60
    summary = {}
    for name, series in samples.items():
        after = [mb for t, mb in series if t >= full]
        if len(after) >= 2:
            summary[name] = {"at_full_mb": after[0], "last_mb": after[-1], "growth_pct": round(100 * (after[-1] / after[0] - 1), 2),
                             "max_mb": max(after), "minutes_after_full": round((series[-1][0] - full) / 60, 1)}  # fmt: skip
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(
        json.dumps({"args": vars(args), "machine": machine(), "samples": samples, "summary": summary})
    )


if __name__ == "__main__":
    main()
