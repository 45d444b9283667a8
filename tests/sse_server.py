"""A scripted OpenAI-compatible SSE server: a real asyncio server on a loopback port, tokens on a known schedule.

    python tests/sse_server.py [--ttft 0.05] [--gaps 0.01[,0.03…]] [--tokens N] [--stall-at S --stall-for S]
                               [--timings vllm|llamacpp] [--batch K] [--metrics]

It prints ``PORT <n>`` once it listens on 127.0.0.1, then answers ``POST …/v1/chat/completions`` and
``…/v1/completions`` with ``stream: true`` as vLLM does: a role chunk at once (chat), the first token
``--ttft`` after the request arrived, each next one a gap later (``--gaps`` cycled), a finish chunk, a usage
chunk (with vLLM's ``metrics`` or llama.cpp's ``timings`` when asked), ``data: [DONE]``. The number of tokens
is the request's ``max_tokens`` unless ``--tokens`` says. Token *k* is due at the previous one's due time +
its gap, on the loop's timer, so errors do not add up along a stream.

``--metrics``: ``GET …/metrics`` (under any prefix below too) serves a vLLM (naming era 2) exposition that grows with the streams served, as
the engine's would: each stream's TTFT (arrival to the first token's write), inter-token gaps and end-to-end
time observed in ``tests/llm_fixtures.Vllm``'s families, its tokens counted; and
``scripted_requests_total{api, stream, model}``, what each request asked for (a test's proof of what was sent).

``--stall-at S --stall-for D``: from S seconds after the first request arrived, for D seconds, nothing is
sent; what fell due then goes out when the stall ends, and each stream's later tokens keep their gaps after
it. ``--batch K`` writes K tokens per write (the memory test's million tokens).

A path prefix asks for a bad answer: ``/not-sse/…`` (200, JSON), ``/status-503/…``, ``/cut-K/…`` (the
connection closes after K tokens), ``/error-K/…`` (an error event after K tokens, then [DONE]),
``/nodone-K/…`` (the body ends after K tokens without [DONE]), ``/tokens-K/…`` (K tokens, 0 allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Script:
    ttft: float = 0.05
    gaps: tuple[float, ...] = (0.01,)
    tokens: int | None = None
    stall_at: float | None = None
    stall_for: float = 0.0
    timings: str | None = None  # vllm | llamacpp
    batch: int = 1
    metrics: bool = False  # serve GET /metrics: a vLLM exposition of the streams served


def chunk(payload: bytes) -> bytes:
    """One HTTP chunk holding one SSE event."""
    event = b"data: " + payload + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


def _obj(api: str, choice: dict, **extra) -> bytes:
    kind = "chat.completion.chunk" if api == "chat" else "text_completion"
    doc = {"id": "cmpl-scripted", "object": kind, "created": 0, "model": "scripted", "choices": [choice], **extra}
    return json.dumps(doc, separators=(",", ":")).encode()


def token_chunk(api: str) -> bytes:
    if api == "chat":
        return chunk(_obj(api, {"index": 0, "delta": {"content": " tok"}, "logprobs": None, "finish_reason": None}))
    return chunk(_obj(api, {"index": 0, "text": " tok", "logprobs": None, "finish_reason": None}))


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
ROLE = chunk(_obj("chat", {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}))
TOKENS = {api: token_chunk(api) for api in ("chat", "completions")}
DONE = chunk(b"[DONE]") + b"0\r\n\r\n"


class Server:
    def __init__(self, script: Script):
        self.script = script
        self.loop = asyncio.get_running_loop()
        self.first_arrival: float | None = None
        self.engine = Engine() if script.metrics else None

    def stall_window(self) -> tuple[float, float] | None:
        s = self.script
        if s.stall_at is None or self.first_arrival is None:
            return None
        start = self.first_arrival + s.stall_at
        return start, start + s.stall_for

    def held(self, due: float) -> float:
        """A due time that falls in the stall is moved to its end."""
        window = self.stall_window()
        if window is not None and window[0] <= due < window[1]:
            return window[1]
        return due


class Stream:
    """One streamed answer, driven by loop timers."""

    def __init__(self, conn: Connection, api: str, tokens: int, arrival: float, mode: str, arg: int):
        self.conn, self.api, self.total, self.mode, self.arg = conn, api, tokens, mode, arg
        self.server = conn.server
        self.arrival = arrival
        self.sent = 0
        self.first_at = 0.0
        self.last_at = 0.0
        if self.server.engine is not None:
            self.server.engine.begin()
        self.token = TOKENS[api]
        conn.write(HEAD + (ROLE if api == "chat" else b""))
        self.due = self.server.held(arrival + self.server.script.ttft)
        self.server.loop.call_at(self.due, self.emit)

    def emit(self) -> None:
        conn, script = self.conn, self.server.script
        if conn.transport is None or conn.transport.is_closing():
            return
        now = self.server.loop.time()
        if not self.sent:
            self.first_at = now
        engine = self.server.engine
        if engine is not None:
            engine.token(now - self.arrival if not self.sent else None, now - self.last_at if self.sent else None)
        self.last_at = now
        n = min(script.batch, self.total - self.sent)
        limit = self.arg if self.mode in ("cut", "error", "nodone") else None
        if limit is not None:
            n = min(n, limit - self.sent)
        conn.write(self.token * n)
        self.sent += n
        if limit is not None and self.sent >= limit:
            self.bad_end()
            return
        if self.sent >= self.total:
            self.end()
            return
        self.due = self.server.held(self.due + script.gaps[self.sent % len(script.gaps)])
        self.server.loop.call_at(self.due, self.emit)

    def bad_end(self) -> None:
        if self.mode == "cut":
            self.conn.transport.close()
        elif self.mode == "error":
            err = {"error": {"message": "scripted failure", "type": "InternalServerError", "code": 500}}
            self.conn.write(chunk(json.dumps(err).encode()) + DONE)
            self.conn.next_request()
        else:  # nodone
            self.conn.write(b"0\r\n\r\n")
            self.conn.next_request()

    def end(self) -> None:
        script, api = self.server.script, self.api
        finish = {"index": 0, "finish_reason": "length", "logprobs": None}
        finish |= {"delta": {"content": ""}} if api == "chat" else {"text": ""}
        usage = {"prompt_tokens": 7, "completion_tokens": self.sent, "total_tokens": 7 + self.sent}
        extra: dict = {}
        if script.timings == "vllm":  # queue 30 % of the scripted TTFT, prefill 50 %: network is the rest
            extra["metrics"] = {
                "queue_time_ms": script.ttft * 0.3e3,
                "time_to_first_token_ms": script.ttft * 0.5e3,
                "generation_time_ms": (self.server.loop.time() - self.first_at) * 1e3,
            }
        elif script.timings == "llamacpp":
            extra["timings"] = {"prompt_n": 7, "prompt_ms": script.ttft * 0.5e3, "predicted_n": self.sent}
        usage_doc = {"id": "cmpl-scripted", "object": "chat.completion.chunk", "choices": [], "usage": usage, **extra}
        if self.server.engine is not None:
            self.server.engine.end(self.server.loop.time() - self.arrival, self.sent)
        self.conn.write(chunk(_obj(api, finish)) + chunk(json.dumps(usage_doc, separators=(",", ":")).encode()) + DONE)
        self.conn.next_request()


class Connection(asyncio.Protocol):
    def __init__(self, server: Server):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.next_request()

    def next_request(self) -> None:
        self.busy = False
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < head_end + 4 + length:
            return
        body = self.buffer[head_end + 4 : head_end + 4 + length]
        self.buffer = self.buffer[head_end + 4 + length :]
        self.busy = True
        self.answer(head[0].split(" ")[1], body)

    def answer(self, path: str, body: bytes) -> None:
        arrival = self.server.loop.time()
        if self.server.first_arrival is None:
            self.server.first_arrival = arrival
        parts = path.strip("/").split("/")
        mode, arg = "ok", 0
        if parts[-1] == "metrics" and self.server.engine is not None:  # under any prefix: a target's /metrics
            payload = self.server.engine.body()
            self.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n\r\n%s"
                % (len(payload), payload)
            )
            self.next_request()
            return
        if parts[0] == "not-sse":
            mode = "not-sse"
        elif parts[0] != "v1":
            mode, _, n = parts[0].partition("-")
            arg = int(n)
        if mode == "not-sse":
            payload = b'{"id":"x","object":"text_completion","choices":[{"text":"not streamed"}]}'
            self.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(payload), payload)
            )
            self.next_request()
            return
        if mode == "status":
            payload = b'{"error":{"message":"scripted status","code":%d}}' % arg
            self.write(
                b"HTTP/1.1 %d Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (arg, len(payload), payload)
            )
            self.next_request()
            return
        request = json.loads(body or b"{}")
        tokens = self.server.script.tokens or int(request.get("max_tokens", 16))
        if mode == "tokens":  # this many tokens, whatever max_tokens says (0: a stream with none)
            mode, tokens = "ok", arg
        api = "chat" if path.rstrip("/").endswith("/chat/completions") else "completions"
        if self.server.engine is not None:
            self.server.engine.asked(api, request)
        Stream(self, api, tokens, arrival, mode, arg)


class Engine:
    """What a vLLM engine's /metrics says of the streams served (``--metrics``): its families, its model."""

    def __init__(self) -> None:
        from llm_fixtures import MODEL, Vllm  # beside this file; only a --metrics server needs prometheus_client
        from prometheus_client import Counter

        self.vllm = v = Vllm("2")
        self.labels = (MODEL, "0")
        self.ttft, self.e2e = v.ttft.labels(*self.labels), v.e2e.labels(*self.labels)
        self.itls = [h.labels(*self.labels) for h in v.itls]
        self.running = v.running.labels(*self.labels)
        self.running.set(0)
        v.waiting.labels(*self.labels).set(0)
        v.queue.labels(*self.labels)
        v.prompt.labels(*self.labels)
        self.generation = v.generation.labels(*self.labels)
        self.success = v.success.labels(*self.labels, "length")
        self.requests = Counter(
            "scripted_requests", "Requests by endpoint, stream flag and model field.", ["api", "stream", "model"],
            registry=v.registry,
        )  # fmt: skip

    def asked(self, api: str, request: dict) -> None:
        self.requests.labels(api, str(request.get("stream") is True).lower(), str(request.get("model", ""))).inc()

    def begin(self) -> None:
        self.running.inc()

    def token(self, ttft: float | None, gap: float | None) -> None:
        if ttft is not None:
            self.ttft.observe(ttft)
        if gap is not None:
            for h in self.itls:
                h.observe(gap)

    def end(self, e2e: float, tokens: int) -> None:
        self.running.dec()
        self.e2e.observe(e2e)
        self.generation.inc(tokens)
        self.success.inc()

    def body(self) -> bytes:
        return self.vllm.body().encode()


async def serve(script: Script, port: int = 0) -> None:
    server = Server(script)
    listener = await server.loop.create_server(lambda: Connection(server), "127.0.0.1", port, backlog=1024)
    print(f"PORT {listener.sockets[0].getsockname()[1]}", flush=True)
    await listener.serve_forever()


def parse(argv: list[str]) -> tuple[Script, int]:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ttft", type=float, default=0.05)
    p.add_argument("--gaps", default="0.01")
    p.add_argument("--tokens", type=int)
    p.add_argument("--stall-at", type=float)
    p.add_argument("--stall-for", type=float, default=0.0)
    p.add_argument("--timings", choices=("vllm", "llamacpp"))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--metrics", action="store_true")
    a = p.parse_args(argv)
    gaps = tuple(float(g) for g in a.gaps.split(","))
    return Script(a.ttft, gaps, a.tokens, a.stall_at, a.stall_for, a.timings, a.batch, a.metrics), a.port


def args_of(script: Script) -> list[str]:
    out = ["--ttft", f"{script.ttft!r}", "--gaps", ",".join(repr(g) for g in script.gaps), "--batch", str(script.batch)]
    if script.tokens is not None:
        out += ["--tokens", str(script.tokens)]
    if script.stall_at is not None:
        out += ["--stall-at", repr(script.stall_at), "--stall-for", repr(script.stall_for)]
    if script.timings:
        out += ["--timings", script.timings]
    if script.metrics:
        out.append("--metrics")
    return out


@contextmanager
def sse_server(script: Script = Script(), *, cpus: str | None = None) -> Iterator[str]:
    """The server in its own process (its timers are not held up by the client's GIL); yields its base URL."""
    pin = ["taskset", "-c", cpus] if cpus else []
    proc = subprocess.Popen(
        [*pin, sys.executable, str(Path(__file__).resolve()), *args_of(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints its port once it listens, or exits
        if not line.startswith("PORT "):
            raise RuntimeError(f"the scripted SSE server did not start (exit {proc.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    script, port = parse(sys.argv[1:])
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(serve(script, port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
