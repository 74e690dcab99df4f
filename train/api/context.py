"""TaskContext: everything a task's `run(ctx)` receives from the runtime (or from `run_locally` in its tests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from train.contract.paths import ContainerPaths, TrainingEnvironment
from train.runtime.checkpoints import Checkpoints
from train.runtime.distributed import Distributed
from train.runtime.tracking import RunTracker


@dataclass(frozen=True)
class TaskContext:
    """The task's config (validated, defaults filled in), the job's environment and /opt/ml paths, the run's
    tracker (`log_metrics`, `log_figure`, `log_model`), its checkpoints (spot restarts) and its place in a
    distributed job (`dist`: rank, shard, all-reduce)."""

    config: Mapping[str, Any]
    env: TrainingEnvironment
    tracker: RunTracker
    checkpoints: Checkpoints
    dist: Distributed = field(default_factory=Distributed)

    @property
    def paths(self) -> ContainerPaths:
        return self.env.paths
