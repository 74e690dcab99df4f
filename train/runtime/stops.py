"""The job's stop signals (SIGTERM, SIGINT): taken by its main thread only, and held there for a moment.

Python runs a handler in the main thread, but the kernel hands a process's signal to any thread that does not
block it, and a signal taken by a helper thread runs the handler in the main thread at its next instruction,
even while the main thread blocks it. So the job's helper threads start with the stop signals blocked (a
thread inherits its creator's mask) and then `held()` really holds them: a stop that comes while the run is
resumed (mlflow is imported) is taken right after, never in the middle of the import, which would leave
mlflow half-imported and the run impossible to end. Stdlib only.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold the stop signals in this thread; one that arrives meanwhile is delivered when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_helper(thread: threading.Thread) -> None:
    """Start a helper thread that never takes a stop signal (they all reach the main thread)."""
    with held():
        thread.start()
