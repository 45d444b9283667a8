"""``--stream``'s settings and request bodies: prompts from a JSONL file or generated to a length distribution.

A JSONL file has one request a line: ``{"prompt": "..."}`` (either endpoint; a chat request gets it as
one user message) or ``{"messages": [{"role": ..., "content": ...}, ...]}`` (``/v1/chat/completions``
only). Generated prompts (``--prompt-tokens MEAN[:STDDEV]``) are words drawn from a list of short, common
English words, each about one token for the BPE tokenizers LLMs use, their number drawn from a normal
distribution (at least 1) with ``--seed``: the length is approximate, in the server's own tokens. Every
body is serialised once, up front; every request sets ``max_tokens`` and ``stream``, and asks for usage
in the final chunk (``stream_options.include_usage``), which also carries vLLM's per-request metrics.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import PromptError

GENERATED_PROMPTS = 1_000  # distinct generated prompts, cycled through
# --stream's defaults, here once for the command line and the console's Load view.
ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}  # api -> the OpenAI-compatible path
DEFAULT_API = "chat"
DEFAULT_MAX_TOKENS = 128
DEFAULT_PROMPT_TOKENS = 64.0  # generated prompts' mean length when no --prompts file is given
STREAM_TIMEOUT_S = 60.0  # a whole stream must end within this (a plain request's default is 10 s)
MAX_PROMPTS = 100_000  # a file's lines beyond this are not read: bodies are kept in memory
# One BPE token each (with their leading space) in the GPT-2/Llama/Qwen vocabularies: common short words.
WORDS = (
    "the of and to in is was for on that with as by at from his her they this which are have had one "
    "not but all were when we there can an your who will more if out so up said what about into than "
    "them only other new some could time these two may then first any like now my over such our man me "
    "even most made after also did many before must through back years where much way well down should "
    "because each just those people how too little state good very make world still own see men work "
    "long get here between both life being under never day same another know while last might us great old"
).split()


@dataclass(frozen=True)
class StreamOptions:
    """What a ``--stream`` run sends: the OpenAI-compatible API, the model, the prompts and ``max_tokens``."""

    api: str  # "chat" (/v1/chat/completions) or "completions" (/v1/completions)
    max_tokens: int = DEFAULT_MAX_TOKENS
    model: str | None = None  # omitted from the body when None (servers with one model accept that)
    prompts_file: str | None = None
    prompt_tokens: float | None = None  # generated prompts: mean length in tokens…
    prompt_tokens_stddev: float = 0.0  # …and its standard deviation
    ignore_eos: bool = False  # vLLM's and llama.cpp's extension: always generate max_tokens

    def __post_init__(self) -> None:
        if self.api not in ("chat", "completions"):
            raise PromptError(f"api must be chat or completions, got {self.api!r}")
        if not 1 <= self.max_tokens <= 1_000_000:
            raise PromptError(f"--max-tokens must be between 1 and 1000000, got {self.max_tokens}")
        if (self.prompts_file is None) == (self.prompt_tokens is None):
            raise PromptError("give one of --prompts FILE or --prompt-tokens MEAN[:STDDEV]")
        if self.prompt_tokens is not None and not (math.isfinite(self.prompt_tokens) and self.prompt_tokens >= 1):
            raise PromptError(f"--prompt-tokens mean must be at least 1, got {self.prompt_tokens:g}")
        if not (math.isfinite(self.prompt_tokens_stddev) and self.prompt_tokens_stddev >= 0):
            raise PromptError("--prompt-tokens stddev must be >= 0")

    def settings(self) -> dict[str, Any]:
        """What the report and a segment's run id say about the stream (merge refuses mixed settings)."""
        prompts = (
            {"file": self.prompts_file}
            if self.prompts_file is not None
            else {"generated_tokens_mean": self.prompt_tokens, "generated_tokens_stddev": self.prompt_tokens_stddev}
        )
        return {
            "api": self.api,
            "model": self.model,
            "max_tokens": self.max_tokens,
            "ignore_eos": self.ignore_eos,
            "prompts": prompts,
        }


def api_of(url: str) -> str:
    """``chat`` or ``completions`` from the target's path (``/v1/chat/completions``, ``/v1/completions``)."""
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/completions"):
        return "completions"
    raise PromptError(f"--stream needs an OpenAI-compatible /v1/completions or /v1/chat/completions URL, got {path!r}")


def parse_prompt_tokens(text: str) -> tuple[float, float]:
    """``MEAN`` or ``MEAN:STDDEV``."""
    try:
        mean, _, stddev = text.partition(":")
        return float(mean), float(stddev or 0)
    except ValueError:
        raise PromptError(f"--prompt-tokens takes MEAN or MEAN:STDDEV (numbers), got {text!r}") from None


def _message_list(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise PromptError(f"{where}: messages must be a non-empty list")
    for m in value:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
            raise PromptError(f"{where}: each message needs a role and a content")
    return value


def read_prompts(path: str, api: str) -> list[dict[str, Any]]:
    """Each line as the body's prompt part: ``{"prompt": ...}`` or ``{"messages": [...]}``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"--prompts {path}: cannot read it ({exc})") from None
    out: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"--prompts {path} line {number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise PromptError(f"{where}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise PromptError(f"{where}: expected an object with prompt or messages")
        if "messages" in row:
            if api != "chat":
                raise PromptError(f"{where}: messages need the chat endpoint (/v1/chat/completions)")
            out.append({"messages": _message_list(row["messages"], where)})
        elif isinstance(row.get("prompt"), str):
            prompt = row["prompt"]
            out.append({"messages": [{"role": "user", "content": prompt}]} if api == "chat" else {"prompt": prompt})
        else:
            raise PromptError(f"{where}: expected a string prompt or a messages list")
        if len(out) >= MAX_PROMPTS:
            break
    if not out:
        raise PromptError(f"--prompts {path}: no prompts in it")
    return out


def generated_prompts(mean: float, stddev: float, api: str, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(GENERATED_PROMPTS):
        n = max(1, round(rng.gauss(mean, stddev))) if stddev else max(1, round(mean))
        text = " ".join(rng.choice(WORDS) for _ in range(n))
        out.append({"messages": [{"role": "user", "content": text}]} if api == "chat" else {"prompt": text})
    return out


def bodies(options: StreamOptions, seed: int) -> list[bytes]:
    """The JSON bodies, in the order the run sends them (a file's order; generated: ``seed``'s)."""
    if options.prompts_file is not None:
        parts = read_prompts(options.prompts_file, options.api)
    else:
        assert options.prompt_tokens is not None, "StreamOptions requires one of the two"
        parts = generated_prompts(options.prompt_tokens, options.prompt_tokens_stddev, options.api, seed)
    common: dict[str, Any] = {
        "max_tokens": options.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if options.model is not None:
        common["model"] = options.model
    if options.ignore_eos:
        common["ignore_eos"] = True
    return [json.dumps({**common, **part}, separators=(",", ":")).encode() for part in parts]
