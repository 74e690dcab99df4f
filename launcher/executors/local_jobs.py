"""A local job after its launch: is it still alive, and stopping it from another terminal (`smlaunch stop`).

A local job lives in `<work_dir>/<job name>/`: one tree per host, `hosts.json` (each host's process, which
leads its own process group) and, once it ended, `outcome.json`. While they live, the launcher holds
`launcher.lock` and each host its `host.lock` in the host's tree (train.contract.liveness), so whether anything
of the job still runs is a question the kernel answers, whatever killed what. Only this machine can tell:
a job run on another machine is left to that machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import time
from pathlib import Path

from launcher.executors.hosts import HOSTS_FILE, STOP_GRACE_SECONDS, STOP_REQUEST_FILE
from train.contract.files import private_dir, write_atomically
from train.contract.liveness import held, hold
from train.contract.paths import ContainerPaths

LAUNCHER_LOCK = "launcher.lock"
WAIT_SECONDS = STOP_GRACE_SECONDS + 15  # the hosts' grace, then the launcher's ending of the run


def this_machine() -> str:
    return platform.node()


def trees(job_dir: Path) -> list[ContainerPaths]:
    """The job's host trees (algo-1 … algo-N), in host order."""
    found = [path for path in job_dir.glob("algo-*") if path.is_dir() and path.name[5:].isdigit()]
    return [ContainerPaths(path) for path in sorted(found, key=lambda path: int(path.name[5:]))]


def claim(job_dir: Path) -> int:
    """Hold the job dir's `launcher.lock` from the start of the launch (before any tree exists) for as long as
    this launcher lives; returns the descriptor."""
    return hold(private_dir(job_dir) / LAUNCHER_LOCK)


def launcher_alive(job_dir: Path) -> bool:
    return held(job_dir / LAUNCHER_LOCK) or any(held(tree.launcher_lock) for tree in trees(job_dir))


def hosts_alive(job_dir: Path) -> bool:
    return any(held(tree.host_lock) for tree in trees(job_dir))


def alive(job_dir: Path) -> bool:
    """Something of the job still runs: its launcher or one of its hosts."""
    return launcher_alive(job_dir) or hosts_alive(job_dir)


def stop(job_dir: Path, reason: str) -> bool:
    """SIGTERM to every host's process group, as SageMaker stops a job, saying why (the launcher, if it still
    runs, records `reason`); wait for the hosts and the launcher to end. False when nothing was running."""
    if not alive(job_dir):
        return False
    write_atomically(job_dir / STOP_REQUEST_FILE, reason)
    try:
        pids = json.loads((job_dir / HOSTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pids = {}
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + WAIT_SECONDS
    while alive(job_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return True
