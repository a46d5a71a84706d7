"""Helpers every test area uses: waiting for a condition that another thread or process
brings about (one polling loop, so no test sleeps for a fixed time)."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.01


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """True as soon as ``predicate()`` holds, False once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    if not eventually(predicate, timeout):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
