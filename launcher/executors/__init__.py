"""Executors room: each takes the one CreateTrainingJob request and runs it somewhere, returning a JobOutcome.

`tree.py` lays a request out as an /opt/ml tree per host, `hosts.py` runs hosts on this machine (as processes
or containers), `sagemaker.py` follows a cloud job, and `docker.py` is the one door to Docker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from launcher.core.errors import ExecutionError
from launcher.job.outcome import JobOutcome
from train.contract.handover import (
    DISTRIBUTION_ENV,
    MASTER_ADDR_ENV,
    MASTER_PORT_ENV,
    RESUMABLE_ENV,
    WATCH_LAUNCHER_ENV,
)
from train.contract.timeline import TIMELINE_ENV

LOOPBACK = "127.0.0.1"
HOST_THREADS_ENV = "SMLAUNCH_HOST_THREADS"  # set by a local sweep: threads per host when trials share the cores
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def execute(mode: str, request: dict[str, Any], work_dir: Path, shared_paths: tuple[str, ...] = (),
            interactive: bool = False, interrupt_after: float | None = None,
            while_running: Callable[[], None] | None = None) -> JobOutcome:
    """Run `request` locally with the executor for `mode` and wait for it to end.

    `shared_paths` (a local MLflow store) must be visible at the same path to the job; `interactive` gives the
    single host of a local-process job this terminal (for debuggers); `interrupt_after` rehearses a spot
    reclaim (the hosts are told, as a spot job's are, that a SIGTERM is a reclaim to resume from). The hosts of
    a torchrun job meet on loopback, at a port free for this job (SageMaker's hosts use algo-1:29500).
    """
    local: dict[str, str] = {WATCH_LAUNCHER_ENV: "true"}  # a host stops when this launcher dies (runtime.orphan)
    if interrupt_after is not None:
        local[RESUMABLE_ENV] = "true"
    if request.get("Environment", {}).get(DISTRIBUTION_ENV):
        local.update({MASTER_ADDR_ENV: LOOPBACK, MASTER_PORT_ENV: str(free_port())})
    if os.environ.get(TIMELINE_ENV):  # `make bench`: the hosts mark their events in the launcher's timeline
        local[TIMELINE_ENV] = os.environ[TIMELINE_ENV]
    threads = os.environ.get(HOST_THREADS_ENV)
    if threads and threads.isdigit():  # local only: a SageMaker host has its instance's cores to itself
        local.update(dict.fromkeys(THREAD_VARIABLES, threads))
    request = {**request, "Environment": {**request.get("Environment", {}), **local}}
    if mode == "local-process":
        from launcher.executors.local_process import run_local_process

        return run_local_process(request, work_dir, interactive, interrupt_after, while_running)
    if mode == "local-container":
        from launcher.executors.local_container import run_local_container

        return run_local_container(request, work_dir, shared_paths, interrupt_after, while_running)
    raise ExecutionError(f"mode '{mode}' does not run locally")


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the kernel's pick): each local job its own rendezvous."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])
