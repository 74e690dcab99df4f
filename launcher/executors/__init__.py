"""Executors: each takes the one CreateTrainingJob request and runs it somewhere, returning a JobOutcome."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.errors import ExecutionError

COMPLETED = "Completed"
FAILED = "Failed"
STOPPED = "Stopped"


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended, in SageMaker's words (Completed / Failed / Stopped), and where its outputs went."""

    job_name: str
    status: str
    failure_reason: str | None = None
    model_artifact: str | None = None


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
