"""Checkpoints a task can resume from after a spot reclaim: /opt/ml/checkpoints, written atomically.

SageMaker syncs /opt/ml/checkpoints with `CheckpointConfig.S3Uri` and restores it when a spot job restarts.
A task saves its state every N steps (or seconds) with `save`; on start it calls `restore`. The state a task
passes (model and optimizer state dicts, its own counters) is stored together with every random generator's
state (Python, NumPy, torch and any torch.Generator the task names), so a resumed run continues bit for bit.
A checkpoint is written to a temporary name and renamed: a SIGTERM mid-write leaves the previous one intact.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

CHECKPOINT_FILE = "smlaunch-checkpoint.pt"


@dataclass
class Checkpoints:
    """Save and restore a task's state under `directory` (the job's checkpoints dir)."""

    directory: Path
    writer: bool = True  # False on every worker but global rank 0 of a distributed job: one writer
    every_steps: int = 1
    every_seconds: float | None = None
    _last_saved: float = field(default_factory=time.monotonic)
    saved_step: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def exists(self) -> bool:
        return self.path.is_file()

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
            "step": step,
            "state": state,
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "generators": {name: g.get_state() for name, g in (generators or {}).items()},
            },
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{CHECKPOINT_FILE}.{os.getpid()}.partial")
        torch.save(payload, partial)
        os.replace(partial, self.path)
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
