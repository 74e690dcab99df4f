"""How a job ended, in SageMaker's words, whichever executor ran it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from train.contract.files import write_atomically

COMPLETED = "Completed"
FAILED = "Failed"
STOPPED = "Stopped"
IN_PROGRESS = "InProgress"
TERMINAL = (COMPLETED, FAILED, STOPPED)
OUTCOME_FILE = "outcome.json"  # beside a local job's host trees
NOT_RETURNED = ("the task did not return: the training process ended before its task finished (killed, os._exit, "
                "or a crash in native code)")


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended (Completed / Failed / Stopped, or InProgress when nobody waited), and where its model went."""

    job_name: str
    status: str
    failure_reason: str | None = None
    model_artifact: str | None = None
    output_data: str | None = None  # the primary host's output/data: a local dir, or s3://…/output.tar.gz

    def save(self, path: Path) -> None:
        """Kept beside a local job's trees, so `smlaunch status` can settle its run later."""
        write_atomically(path, json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> JobOutcome | None:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
