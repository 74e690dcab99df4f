"""Run a task without a launcher or a tracker, for a task's own unit tests (`pytest train/<task>`).

`run_locally(run, config, tmp_path)` lays out an /opt/ml tree under `tmp_path`, fills in the defaults of the
task's own config.schema.json (as the launcher does), gives the task a tracker that keeps its metrics in
memory (names and values checked as in a job) and saves its model to the model dir, and returns what the
task logged.
"""

from __future__ import annotations

import inspect
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.checkpoints import Checkpoints
from train.contract import ContainerPaths, TrainingEnvironment
from train.runtime import TaskContext
from train.tracking import RunTracker


class RecordingTracker(RunTracker):
    """A tracker with no MLflow behind it: metrics are checked and kept, models and figures saved locally."""

    def __init__(self, paths: ContainerPaths) -> None:
        super().__init__(paths, enabled=False)
        self.metrics: dict[str, list[float]] = defaultdict(list)
        self.steps: dict[str, list[int]] = defaultdict(list)

    def log_metrics(self, values: Mapping[str, Any], step: int) -> None:
        super().log_metrics(values, step)
        for key, value in values.items():
            self.metrics[key].append(float(value))
            self.steps[key].append(step)


@dataclass(frozen=True)
class TaskResult:
    paths: ContainerPaths
    metrics: dict[str, list[float]]
    steps: dict[str, list[int]]


def with_defaults(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with every missing property that has a schema `default` filled in, recursively."""
    result = dict(config)
    for name, sub in schema.get("properties", {}).items():
        if name not in result and "default" in sub:
            result[name] = json.loads(json.dumps(sub["default"]))
        if isinstance(result.get(name), Mapping):
            result[name] = with_defaults(result[name], sub)
    return result


def run_locally(task: Callable[[TaskContext], None], config: Mapping[str, Any], base: Path) -> TaskResult:
    """Call `task` as a job would, on an /opt/ml tree under `base`."""
    schema_file = Path(inspect.getfile(task)).parent / "config.schema.json"
    if schema_file.is_file():
        config = with_defaults(config, json.loads(schema_file.read_text(encoding="utf-8")))
    paths = ContainerPaths(base)
    for directory in (paths.input_config_dir, paths.data_dir, paths.model_dir, paths.output_data_dir,
                      paths.checkpoints_dir):
        directory.mkdir(parents=True, exist_ok=True)
    tracker = RecordingTracker(paths)
    task(TaskContext(config=dict(config), env=TrainingEnvironment(paths), tracker=tracker,
                     checkpoints=Checkpoints(paths.checkpoints_dir)))
    return TaskResult(paths, dict(tracker.metrics), dict(tracker.steps))
