"""The sending loop of ``live_stack.SteadyTraffic``, in a process of its own.

In the test process, a thread posting 120 requests a second kept the process's CPU clock moving, and
Textual's Pilot waits for the process to be idle after every key press (``wait_for_idle``: up to 1 s
each): every console test that ran after the first one using the live stack crawled (a whole test file
went from 1.5 min to 15). A child process sends instead; its counts come back through shared memory.
"""

from __future__ import annotations

import time

import httpx


def send(urls: list[str], users: list[str], interval: float, counts, stop) -> None:
    """Post to /predict of each URL in turn, one every ``interval`` seconds; one request in ten asks for an
    unknown user. ``counts[j]``: requests answered by ``urls[j]``."""
    with httpx.Client(timeout=5) as client:
        i = 0
        next_at = time.perf_counter()
        while not stop.is_set():
            j = i % len(urls)
            user = users[i % len(users)] if i % 10 else "0000-NOONE"
            try:
                client.post(urls[j] + "/predict", json={"user_id": user})
                counts[j] += 1
            except httpx.HTTPError:
                pass
            i += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))  # pacing the traffic: this is the load
