"""A local host never outlives its launcher: when the launcher dies (SIGKILL, OOM, a closed lid), the host stops
as if SageMaker had stopped the job, and its run ends KILLED saying the launcher died.

Two signals, as available: on Linux the kernel's parent-death signal (SIGTERM the moment the launcher's process
ends), and everywhere a watchdog thread that checks every second whether the launcher still holds its lock on
`launcher.lock` in this host's tree (a container sees it at /opt/ml). Only local jobs ask for this
(SMLAUNCH_WATCH_LAUNCHER); on SageMaker nothing is watched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Mapping

from train.contract.handover import WATCH_LAUNCHER_ENV
from train.contract.liveness import held
from train.contract.paths import ContainerPaths

POLL_SECONDS = 1.0
PR_SET_PDEATHSIG = 1
LAUNCHER_DIED = "the launcher died (its process ended without stopping the job)"


def watched(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(WATCH_LAUNCHER_ENV) == "true"


def launcher_died(paths: ContainerPaths, environ: Mapping[str, str] = os.environ) -> bool:
    """True when this is a local host whose launcher no longer holds its lock."""
    return watched(environ) and paths.launcher_lock.exists() and not held(paths.launcher_lock)


def watch_launcher(paths: ContainerPaths, environ: Mapping[str, str] = os.environ) -> None:
    """Stop this process (SIGTERM to itself) once the launcher is gone; a no-op unless asked to watch."""
    if not watched(environ):
        return
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # without it, the watchdog below still works
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if launcher_died(paths, environ):  # it died before the signal was set up
        os.kill(os.getpid(), signal.SIGTERM)
        return
    threading.Thread(target=_watch, args=(paths, environ), name="smlaunch-launcher-watch", daemon=True).start()


def _watch(paths: ContainerPaths, environ: Mapping[str, str]) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_SECONDS):
        if launcher_died(paths, environ):
            os.kill(os.getpid(), signal.SIGTERM)
            return
