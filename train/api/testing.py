"""Run a task without a launcher or a tracker, for a task's own unit tests (`pytest train/<task>`).

`run_locally(run, config, tmp_path)` lays out an /opt/ml tree under `tmp_path` (with `channels={"training":
data_dir}`, each channel's files are copied to input/data/<name>/ as a job sees them), fills in the defaults of
the task's own config.schema.json (as the launcher does, with the same code), gives the task a tracker that
keeps its metrics in memory (names and values checked as in a job) and saves its model and figures to the tree,
and returns what the task logged.
"""

from __future__ import annotations

import inspect
import json
import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.api.context import TaskContext
from train.contract.defaults import apply_defaults
from train.contract.paths import ContainerPaths, TrainingEnvironment
from train.runtime.checkpoints import Checkpoints
from train.runtime.tracking import RunTracker


class RecordingTracker(RunTracker):
    """A tracker with no MLflow behind it: metrics are checked and kept, models and figures saved locally."""

    def __init__(self, paths: ContainerPaths) -> None:
        super().__init__(paths, enabled=False)
        self.metrics: dict[str, list[float]] = defaultdict(list)
        self.steps: dict[str, list[int]] = defaultdict(list)

    def log_metrics(self, values: Mapping[str, Any], step: int) -> None:
        super().log_metrics(values, step)
        for key, value in values.items():
            if key not in self.dropped:
                self.metrics[key].append(float(value))
                self.steps[key].append(step)


@dataclass(frozen=True)
class TaskResult:
    paths: ContainerPaths
    metrics: dict[str, list[float]]
    steps: dict[str, list[int]]


def run_locally(task: Callable[[TaskContext], None], config: Mapping[str, Any], base: Path,
                channels: Mapping[str, Path] | None = None) -> TaskResult:
    """Call `task` as a job would, on an /opt/ml tree under `base`; `channels` maps a channel name to a local
    directory whose files the task finds in `ctx.paths.channel_dir(name)`."""
    schema_file = Path(inspect.getfile(task)).parent / "config.schema.json"
    if schema_file.is_file():
        config = apply_defaults(config, json.loads(schema_file.read_text(encoding="utf-8")))
    paths = ContainerPaths(base)
    for directory in (paths.input_config_dir, paths.data_dir, paths.model_dir, paths.output_data_dir,
                      paths.checkpoints_dir):
        directory.mkdir(parents=True, exist_ok=True)
    for name, source in (channels or {}).items():
        shutil.copytree(source, paths.channel_dir(name), dirs_exist_ok=True)
    tracker = RecordingTracker(paths)
    task(TaskContext(config=dict(config), env=TrainingEnvironment(paths), tracker=tracker,
                     checkpoints=Checkpoints(paths.checkpoints_dir)))
    return TaskResult(paths, dict(tracker.metrics), dict(tracker.steps))
