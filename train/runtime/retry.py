"""Retrying a call to the tracker: only what may succeed later, until a deadline, with capped backoff. Stdlib only.

Retryable: no answer at all (a refused or dropped connection, a timeout) and the answers that say "later"
(408, 429 and every 5xx). Never a 4xx such as 400 (a name MLflow refuses), 401/403 (credentials) or 404, and
never a fault in the code (an AttributeError, a TypeError ...): the same request would fail again, forever.
The container keeps MLflow's own per-request retries short (see train.runtime.tracking) and retries whole
operations here, so every wait is bounded by a deadline the caller chooses and happens where it costs nothing
(a background thread, or the end of the job), never inside the training loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_PAUSE_SECONDS = 0.5
LONGEST_PAUSE_SECONDS = 10.0
LATER = (408, 429)  # and every status from 500 up
CODE_FAULTS = (AttributeError, ImportError, NameError, TypeError)  # e.g. a half-imported module: never later


def http_status(error: BaseException) -> int | None:
    """The HTTP status an MLflow error stands for (its error code's), or None when nothing answered."""
    getter = getattr(error, "get_http_status_code", None)
    if callable(getter):
        try:
            return int(getter())
        except Exception:
            return None
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retryable(error: BaseException) -> bool:
    """Whether the same call may succeed later (never a fault in the code making it)."""
    if isinstance(error, CODE_FAULTS):
        return False
    status = http_status(error)
    return status is None or status in LATER or status >= 500


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt `attempt` + 1 (0.5, 1, 2, 4, 8, 10, 10, ...)."""
    return float(min(LONGEST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2**attempt))


def until(deadline: float, call: Callable[[], T], stop: Callable[[], bool] = lambda: False) -> T:
    """`call()` until it returns, fails for good (not retryable), `time.monotonic()` passes `deadline`, or
    `stop()`; then the last error is raised."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            pause = backoff(attempt)
            if not retryable(error) or stop() or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            attempt += 1
