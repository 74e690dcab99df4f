"""The runtime: what runs inside the container around a task.

`bootstrap` (the shipped code) → `torchrun` (a distributed host starts its workers) → `job` (resume the run,
read the config, call the task, end the run whatever happens) with `tracking` (the job's one door to MLflow),
`metrics` (points journaled and sent in the background), `models`, `checkpoints`, `distributed`, `secrets`,
`tuning`, `toolkit_env`, `failure` and `retry`; `replay` sends what a job left unsent, afterwards.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """Tasks written before the task API had its own room import `TaskContext` from here."""
    if name == "TaskContext":
        from train.api.context import TaskContext

        return TaskContext
    raise AttributeError(f"module 'train.runtime' has no attribute {name!r}")
