"""Retrying a call to the tracker until a deadline, with capped exponential backoff. Stdlib only.

The container sets MLflow's own HTTP retries to zero (see train.tracking) and retries here instead, so every
wait is bounded by a deadline the caller chooses and happens where it costs nothing (a background thread,
or the end of the job), never inside the training loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_PAUSE_SECONDS = 0.5
LONGEST_PAUSE_SECONDS = 10.0


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt `attempt` + 1 (0.5, 1, 2, 4, 8, 10, 10, ...)."""
    return float(min(LONGEST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2**attempt))


def until(deadline: float, call: Callable[[], T], stop: Callable[[], bool] = lambda: False) -> T:
    """`call()` until it returns, `time.monotonic()` passes `deadline`, or `stop()`; then the last error is raised."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception:
            pause = backoff(attempt)
            if stop() or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            attempt += 1
