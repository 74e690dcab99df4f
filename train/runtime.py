"""Run one training job inside the container: read the contract, resume the run, call the task, report.

One try/except at the top separates success from failure. On failure the reason goes first into
/opt/ml/output/failure (SageMaker shows its first 1024 chars as FailureReason), the MLflow run ends FAILED,
and the process exits non-zero. The task itself (data + model) lives elsewhere and knows nothing of this.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from train.contract import FAILURE_REASON_LIMIT, ContainerPaths, TrainingEnvironment
from train.toolkit_env import toolkit_variables

if TYPE_CHECKING:
    from train.tracking import RunTracker

EXIT_FAILURE = 1
DEFAULT_TASK = "train.digits.task:run"


@dataclass(frozen=True)
class TaskContext:
    """What a task receives: its config, the container's environment and paths, and the run tracker."""

    config: Mapping[str, Any]
    env: TrainingEnvironment
    tracker: RunTracker

    @property
    def paths(self) -> ContainerPaths:
        return self.env.paths


def load_task(reference: str) -> Callable[[TaskContext], None]:
    """Import 'package.module:function'."""
    module_name, _, function_name = reference.partition(":")
    task: Callable[[TaskContext], None] = getattr(importlib.import_module(module_name), function_name)
    return task


def read_training_config(paths: ContainerPaths) -> dict[str, Any]:
    import yaml

    config_file = paths.training_config_file
    if not config_file.exists():
        raise FileNotFoundError(f"training config not found at {config_file} (is the 'config' channel set?)")
    with config_file.open(encoding="utf-8") as handle:
        config: dict[str, Any] = yaml.safe_load(handle) or {}
    return config


def write_failure(paths: ContainerPaths, error: BaseException) -> str:
    """Write the failure file: the reason first (what SageMaker shows), then the traceback."""
    reason = f"{type(error).__name__}: {error}"
    details = "".join(traceback.format_exception(error))
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    paths.failure_file.write_text(f"{reason[:FAILURE_REASON_LIMIT]}\n\n{details}", encoding="utf-8")
    return reason


def run_job(paths: ContainerPaths) -> int:
    """Run the job; return the process exit code."""
    from train.tracking import RunTracker

    env = TrainingEnvironment.read(paths)
    for name, value in toolkit_variables(env).items():
        os.environ.setdefault(name, value)  # where the toolkit itself runs, its values stand
    tracker: RunTracker | None = None
    try:
        config = read_training_config(paths)
        tracker = RunTracker.resume(enabled=env.is_primary)
        task = load_task(str(config.get("task", DEFAULT_TASK)))
        task(TaskContext(config=config, env=env, tracker=tracker))
        tracker.finish()
        return 0
    except BaseException as error:
        reason = write_failure(paths, error)
        print(f"training failed: {reason}", file=sys.stderr)
        traceback.print_exception(error, file=sys.stderr)
        if tracker is not None:
            tracker.fail(reason, killed=isinstance(error, KeyboardInterrupt))
        return EXIT_FAILURE


def main() -> None:
    """Console entry point."""
    sys.exit(run_job(ContainerPaths.from_env(os.environ)))
