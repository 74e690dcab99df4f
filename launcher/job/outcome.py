"""How a job ended, in SageMaker's words, whichever executor ran it."""

from __future__ import annotations

from dataclasses import dataclass

COMPLETED = "Completed"
FAILED = "Failed"
STOPPED = "Stopped"
IN_PROGRESS = "InProgress"
TERMINAL = (COMPLETED, FAILED, STOPPED)


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended (Completed / Failed / Stopped, or InProgress when nobody waited), and where its model went."""

    job_name: str
    status: str
    failure_reason: str | None = None
    model_artifact: str | None = None
