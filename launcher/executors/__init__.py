"""Executors room: each takes the one CreateTrainingJob request and runs it somewhere, returning a JobOutcome.

`tree.py` lays a request out as an /opt/ml tree per host, `hosts.py` runs hosts on this machine (as processes
or containers), `sagemaker.py` follows a cloud job, and `docker.py` is the one door to Docker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launcher.errors import ExecutionError
from launcher.job.outcome import JobOutcome


def execute(mode: str, request: dict[str, Any], work_dir: Path, shared_paths: tuple[str, ...] = (),
            interactive: bool = False) -> JobOutcome:
    """Run `request` locally with the executor for `mode` and wait for it to end.

    `shared_paths` (a local MLflow store) must be visible at the same path to the job; `interactive` gives the
    single host of a local-process job this terminal (for debuggers).
    """
    if mode == "local-process":
        from launcher.executors.local_process import run_local_process

        return run_local_process(request, work_dir, interactive)
    if mode == "local-container":
        from launcher.executors.local_container import run_local_container

        return run_local_container(request, work_dir, shared_paths)
    raise ExecutionError(f"mode '{mode}' does not run locally")
