"""What `smlaunch run` (and `reproduce`) report about a launch: one shape for text and `--output json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from launcher.job.outcome import JobOutcome
from launcher.tracking.client import TrackedRun, run_url
from train.contract.uris import redact


@dataclass(frozen=True)
class LaunchResult:
    """A launch's end: the run, the job, both statuses, and links to find them again."""

    run: TrackedRun
    job_name: str
    status: str
    outcome: JobOutcome
    request: dict[str, Any]
    links: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "experiment_id": self.run.experiment_id,
            "tracking_uri": redact(self.run.tracking_uri),
            "run_url": run_url(self.run),
            "status": self.status,
            "job_name": self.job_name,
            "job_status": self.outcome.status,
            "failure_reason": self.outcome.failure_reason,
            "model_artifact": self.outcome.model_artifact,
            **self.links,
        }
