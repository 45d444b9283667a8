"""Client CPU per token of ``streamflow-load --stream`` at ~20,000 tokens/s, beside a plain asyncio+httpx SSE
client and beside streamflow-load's own CPU per plain request, in the same run (#29's performance goal).

    python bench/stream_cpu.py [--streams 100] [--gap 0.005] [--max-tokens 200] [--seconds 10] [--rounds 3] [--pin]

The scripted SSE server (tests/sse_server.py, on CPU 0 with ``--pin``, the clients on CPU 1) streams every
request's tokens ``--gap`` apart; ``--streams`` concurrent streams (closed model) at 5 ms make 20,000
tokens/s. Each round runs, interleaved:

- ``streamflow-load --stream -c STREAMS`` (TTFT, ITL and e2e histograms, usage, the server's split);
- the httpx client below: what a plain Python SSE client does (``aiter_lines``, ``json.loads`` per event,
  each token's arrival time kept to compute TTFT and gaps), the same streams;
- ``streamflow-load --rate 2000`` plain GETs against the same server's JSON answer (``/not-sse/…``): CPU per
  request, the non-stream figure.

A client's CPU is the user+sys of its process (``os.wait4``), minus its start-up (the same tool sending one
request). CPU per token = (run − start-up) ÷ tokens received; per request for the plain run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from common import machine, pinned  # noqa: E402
from sse_server import Script, sse_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


async def httpx_client(url: str, streams: int, seconds: float, max_tokens: int, requests: int | None) -> dict:
    """A plain SSE client: httpx's streaming response, line by line, one JSON decode per event."""
    import httpx

    body = {"messages": [{"role": "user", "content": "hello " * 64}], "max_tokens": max_tokens, "stream": True}
    tokens = 0
    ttfts: list[float] = []
    gaps: list[float] = []
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal tokens, done
        while time.perf_counter() < deadline and (requests is None or done < requests):
            done += 1
            sent = time.perf_counter()
            last = None
            async with client.stream("POST", url, json=body) as response:
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    chunk = json.loads(payload)
                    choices = chunk.get("choices") or [{}]
                    if choices[0].get("delta", {}).get("content"):
                        now = time.perf_counter()
                        if last is None:
                            ttfts.append(now - sent)
                        else:
                            gaps.append(now - last)
                        last = now
                        tokens += 1

    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(streams)))
    return {"tokens": tokens, "streams": len(ttfts)}


def timed(cmd: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:4]} exited {status}")
    return usage.ru_utime + usage.ru_stime, out


def commands(base: str, args: argparse.Namespace, cpus: str | None) -> dict[str, tuple[list[str], list[str]]]:
    """tool -> (start-up command, measured command)."""
    chat = base + "/v1/chat/completions"
    load = [*pinned(cpus), sys.executable, "-m", "loadgen.cli", "--no-progress", "--json"]
    stream = [*load, "--url", chat, "--stream", "--max-tokens", str(args.max_tokens), "--prompt-tokens", "64"]
    mine = [sys.executable, str(Path(__file__).resolve()), "--httpx-client", chat]
    per = ["--max-tokens", str(args.max_tokens)]
    plain = [*load, "--url", base + "/not-sse/v1/models", "--payload", "none"]
    return {
        "streamflow-load --stream": (
            [*stream, "-c", "1", "--requests", "1"],
            [*stream, "-c", str(args.streams), "--duration", f"{args.seconds:g}"],
        ),
        "httpx SSE client": (
            [*pinned(cpus), *mine, "--streams", "1", "--seconds", "60", "--requests", "1", *per],
            [*pinned(cpus), *mine, "--streams", str(args.streams), "--seconds", f"{args.seconds:g}", *per],
        ),
        "streamflow-load (plain requests)": (
            [*plain, "-c", "1", "--requests", "1"],
            [*plain, "--rate", f"{args.plain_rate:g}", "--duration", f"{args.seconds:g}"],
        ),
    }


def counted(tool: str, out: str) -> tuple[int, dict]:
    """(tokens, or requests for the plain run; figures kept beside the CPU)."""
    doc = json.loads(out)
    if tool.startswith("httpx"):
        return doc["tokens"], {"streams": doc["streams"]}
    if "stream" not in doc:
        t = doc["totals"]
        return t["ok"] + t["errors"] - t["no_answer"], {"rps": doc["throughput_rps"]}
    st = doc["stream"]
    return st["tokens"], {
        "streams": st["streams"],
        "tokens_per_s": st["tokens_per_s"],
        "ttft_p50_ms": st["ttft_seconds"]["uncorrected"]["p50"] * 1e3,
        "ttft_p99_ms": st["ttft_seconds"]["uncorrected"]["p99"] * 1e3,
        "itl_p50_ms": st["itl_seconds"]["uncorrected"]["p50"] * 1e3,
        "itl_p99_ms": st["itl_seconds"]["uncorrected"]["p99"] * 1e3,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--gap", type=float, default=0.005, help="seconds between a stream's tokens")
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--plain-rate", type=float, default=2000)
    p.add_argument("--pin", action="store_true", help="server on CPU 0, clients on CPU 1")
    p.add_argument("--httpx-client", metavar="URL", help=argparse.SUPPRESS)  # the measured child
    p.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.httpx_client:
        result = asyncio.run(
            httpx_client(args.httpx_client, args.streams, args.seconds, args.max_tokens, args.requests)
        )
        print(json.dumps(result))
        return
    server_cpus, client_cpus = ("0", "1") if args.pin else (None, None)
    runs: dict[str, list[dict]] = {}
    with sse_server(Script(ttft=0.01, gaps=(args.gap,)), cpus=server_cpus) as base:
        tools = commands(base, args, client_cpus)
        for _ in range(args.rounds):
            for tool, (startup_cmd, cmd) in tools.items():
                startup, _ = timed(startup_cmd)
                cpu, out = timed(cmd)
                n, figures = counted(tool, out)
                unit = "us_per_request" if "plain" in tool else "us_per_token"
                runs.setdefault(tool, []).append(
                    {"cpu_s": cpu, "startup_cpu_s": startup, "count": n, unit: (cpu - startup) / n * 1e6, **figures}
                )
    median = {tool: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for tool, rs in runs.items()}
    mine, theirs = median["streamflow-load --stream"], median["httpx SSE client"]
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "args": {k: v for k, v in vars(args).items() if k not in ("httpx_client", "requests")},
                "median": median,
                "runs": runs,
                "stream_vs_httpx_cpu_per_token": mine["us_per_token"] / theirs["us_per_token"],
                "tokens_per_s": {tool: m["count"] / args.seconds for tool, m in median.items() if "plain" not in tool},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
