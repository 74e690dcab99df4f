"""Where a run's seconds go: `make bench` sets SMLAUNCH_TIMELINE to a file, and the launcher and the container
append `<unix time> <event>` lines to it at a few fixed points. Stdlib only; a no-op when the variable is unset.

Events: launcher_start, host_start (the launcher started a host), container_start (first line of the host's
Python), task_start (imports, resume and config done: the task is called), metrics (each time the task logs
metrics: the last one closes training), container_exit, report (the launcher printed its report).
"""

from __future__ import annotations

import os
import time

TIMELINE_ENV = "SMLAUNCH_TIMELINE"


def mark(event: str) -> None:
    path = os.environ.get(TIMELINE_ENV)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as timeline:
            timeline.write(f"{time.time():.6f} {event}\n")
    except OSError:
        pass
