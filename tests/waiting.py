"""Wait for a condition, never for a fixed time: poll it until a deadline, then fail saying what was
awaited and what was last seen. One helper for plain code and threads, its twin for coroutines (Pilot)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _failure(what: str, timeout: float, last: Any, seen: Callable[[], Any] | None) -> AssertionError:
    shown = seen() if seen is not None else last
    return AssertionError(f"not within {timeout:g} s: {what} (last seen: {shown!r})")


def wait_until(
    condition: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the condition",
    *,
    interval: float = 0.05,
    seen: Callable[[], Any] | None = None,
) -> T:
    """Call ``condition`` until it returns something truthy, and return that. ``seen``: what to show when
    the deadline passes (default: the condition's last value). A condition may raise to give up early."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, value, seen)
        time.sleep(interval)  # between two checks of the condition


async def wait_until_async(
    condition: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the condition",
    *,
    interval: float = 0.05,
    pause: Callable[[float], Awaitable[Any]] | None = None,
    seen: Callable[[], Any] | None = None,
) -> T:
    """``wait_until`` in a coroutine: the event loop runs between checks. ``pause``: how to let it run
    (``pilot.pause`` in a Pilot test, so the app processes its messages and repaints)."""
    pause = pause or asyncio.sleep
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, value, seen)
        await pause(interval)  # between two checks of the condition
