"""Checkpoints a task can resume from after a spot reclaim: /opt/ml/checkpoints, written atomically.

SageMaker syncs /opt/ml/checkpoints with `CheckpointConfig.S3Uri` and restores it when a spot job restarts.
A task saves its state every N steps (or seconds) with `save`; on start it calls `restore`. The state a task
passes (model and optimizer state dicts, its own counters) is stored together with every random generator's
state (Python, NumPy, torch and any torch.Generator the task names), so a resumed run continues bit for bit.
A checkpoint is written to a temporary name and renamed: a SIGTERM mid-write leaves the previous one intact.

A checkpoint belongs to the run that wrote it: its owner's run ID is stored in it and beside it
(`smlaunch-checkpoint.json`, which pre-flight reads on S3 without torch). A job resumes only from its own run's
checkpoints; one left by another run under the same location is ignored here, and refused at pre-flight.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from train.contract.files import atomic_writer, write_atomically
from train.contract.handover import RUN_ID_ENV
from train.contract.journal import read_marker
from train.contract.paths import CHECKPOINT_FILE, CHECKPOINT_OWNER_FILE
from train.runtime.failure import warn

if TYPE_CHECKING:
    import torch



@dataclass
class Checkpoints:
    """Save and restore a task's state under `directory` (the job's checkpoints dir)."""

    directory: Path
    writer: bool = True  # False on every worker but global rank 0 of a distributed job: one writer
    owner: str | None = field(default_factory=lambda: os.environ.get(RUN_ID_ENV))  # whose checkpoints these are
    every_steps: int = 1
    every_seconds: float | None = None
    _last_saved: float = field(default_factory=time.monotonic)
    saved_step: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    @property
    def owner_file(self) -> Path:
        return self.directory / CHECKPOINT_OWNER_FILE

    def written_by(self) -> str | None:
        """The run that wrote the checkpoint here (None when there is none, or it does not say)."""
        found = read_marker(self.owner_file).get("run_id")
        return str(found) if found else None

    def exists(self) -> bool:
        """A checkpoint of this job's own run is here."""
        return self.path.is_file() and (self.owner is None or self.written_by() == self.owner)

    def due(self, step: int) -> bool:
        """Whether `step` should be saved under the every_steps / every_seconds policy."""
        if self.every_seconds is not None:
            return time.monotonic() - self._last_saved >= self.every_seconds
        return step % max(self.every_steps, 1) == 0

    def save(self, step: int, state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
        """Write `state` for `step` with every RNG state, atomically (only the writer writes)."""
        if not self.writer:
            self._last_saved = time.monotonic()
            self.saved_step = step
            return
        import numpy as np
        import torch

        payload = {
            "run_id": self.owner,
            "step": step,
            "state": state,
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "generators": {name: g.get_state() for name, g in (generators or {}).items()},
            },
        }
        write_atomically(self.owner_file, json.dumps({"run_id": self.owner}))  # first: a checkpoint is never unowned
        with atomic_writer(self.path) as handle:
            torch.save(payload, handle)
        self._last_saved = time.monotonic()
        self.saved_step = step

    def maybe_save(self, step: int, state: dict[str, Any],
                   generators: dict[str, torch.Generator] | None = None) -> bool:
        if not self.due(step):
            return False
        self.save(step, state, generators)
        return True

    def restore(self, generators: dict[str, torch.Generator] | None = None) -> tuple[int, dict[str, Any]] | None:
        """(step, state) of the last checkpoint, with every RNG put back as it was; None when there is none."""
        if self.path.is_file() and not self.exists():
            warn(f"{self.directory} holds a checkpoint of run {self.written_by()}, not of this run "
                 f"({self.owner}): starting from the beginning")
            return None
        if not self.exists():
            return None
        import numpy as np
        import torch

        payload = torch.load(self.path, weights_only=False)
        rng = payload["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        for name, generator in (generators or {}).items():
            generator.set_state(rng["generators"][name])
        self.saved_step = int(payload["step"])
        return self.saved_step, payload["state"]
