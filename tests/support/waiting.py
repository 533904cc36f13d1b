"""Polling for what the sandbox does asynchronously (tests only)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 20.0, poll: float = 0.1):
    """The first truthy value of ``predicate()``; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s")
