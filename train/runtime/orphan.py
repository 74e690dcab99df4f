"""A local host never outlives its launcher: when the launcher dies (SIGKILL, OOM, a closed lid), the host stops
as if SageMaker had stopped the job, and its run ends KILLED saying the launcher died.

Two signals, as available: on Linux the kernel's parent-death signal (SIGUSR2 the moment the launcher's
thread ends, turned into a SIGTERM that says why: the launcher's lock may outlive that thread by a moment, so
the lock alone cannot tell), and everywhere a watchdog thread that checks every second whether the launcher
still holds its lock on `launcher.lock` in this host's tree (a container sees it at /opt/ml). Only local jobs
ask for this (SMLAUNCH_WATCH_LAUNCHER); on SageMaker nothing is watched.
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
from train.runtime import stops

POLL_SECONDS = 1.0
PR_SET_PDEATHSIG = 1
LAUNCHER_DIED = "the launcher died (its process ended without stopping the job)"
PARENT_DEATH_SIGNAL = signal.SIGUSR2  # only the kernel sends it here: unlike SIGTERM, it cannot mean "stop"
_parent_died = threading.Event()


def watched(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(WATCH_LAUNCHER_ENV) == "true"


def launcher_died(paths: ContainerPaths, environ: Mapping[str, str] = os.environ) -> bool:
    """True when this is a local host whose launcher ended: the kernel said so, or it no longer holds its lock."""
    if not watched(environ):
        return False
    return _parent_died.is_set() or (paths.launcher_lock.exists() and not held(paths.launcher_lock))


def _on_parent_death(signum: int, frame: object) -> None:
    _parent_died.set()
    os.kill(os.getpid(), signal.SIGTERM)


def watch_launcher(paths: ContainerPaths, environ: Mapping[str, str] = os.environ) -> None:
    """Stop this process (SIGTERM to itself) once the launcher is gone; a no-op unless asked to watch."""
    if not watched(environ):
        return
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError, ValueError):  # without it, the watchdog still works
            signal.signal(PARENT_DEATH_SIGNAL, _on_parent_death)
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL, 0, 0, 0)
    if launcher_died(paths, environ):  # it died before the signal was set up
        os.kill(os.getpid(), signal.SIGTERM)
        return
    stops.start_helper(threading.Thread(target=_watch, args=(paths, environ), name="smlaunch-launcher-watch",
                                        daemon=True))


def _watch(paths: ContainerPaths, environ: Mapping[str, str]) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_SECONDS):
        if launcher_died(paths, environ):
            os.kill(os.getpid(), signal.SIGTERM)
            return
