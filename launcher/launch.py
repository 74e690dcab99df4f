"""One launch, in order: provenance → MLflow run → staged configs → request → executor → final run state.

Config problems are all caught before this module runs, so bad input never creates a run. Once the run
exists, any failure ends it FAILED (or KILLED on Ctrl-C) with the reason recorded: never left RUNNING.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launcher import tracking
from launcher.executors import COMPLETED, STOPPED, JobOutcome, execute
from launcher.params import flatten
from launcher.provenance import Provenance, collect_provenance
from launcher.request import build_request, make_job_name
from launcher.run_note import describe_run
from launcher.spec import LaunchSpec
from launcher.staging import artifact_pairs, stage_configs


@dataclass(frozen=True)
class LaunchResult:
    """What `smlaunch run` reports."""

    run: tracking.TrackedRun
    job_name: str
    status: str
    outcome: JobOutcome
    request: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "experiment_id": self.run.experiment_id,
            "tracking_uri": self.run.tracking_uri,
            "run_url": tracking.run_url(self.run),
            "status": self.status,
            "job_name": self.job_name,
            "job_status": self.outcome.status,
            "failure_reason": self.outcome.failure_reason,
            "model_artifact": self.outcome.model_artifact,
        }


def run_tags(spec: LaunchSpec, provenance: Provenance) -> dict[str, str]:
    """MLflow's own system tags (shown in the UI where people look) plus the launcher's."""
    tags = {
        "mlflow.source.name": str(spec.sources.job_file),
        "mlflow.source.type": "JOB",
        "mlflow.user": provenance.user,
        "launcher.mode": spec.mode,
        "launcher.config_path": str(spec.sources.job_file),
        "launcher.training_config_path": str(spec.sources.training_file),
        "launcher.version": provenance.launcher_version,
        "launcher.command": provenance.command,
        "launcher.python_version": provenance.python_version,
        **spec.tags,
    }
    if provenance.git_commit:
        tags["mlflow.source.git.commit"] = provenance.git_commit
        tags["launcher.git_dirty"] = str(provenance.git_dirty).lower()
    if provenance.git_branch:
        tags["mlflow.source.git.branch"] = provenance.git_branch
    if provenance.git_remote:
        tags["mlflow.source.git.repoURL"] = provenance.git_remote
    return tags


def launch(spec: LaunchSpec, cwd: Path, argv: list[str] | None = None) -> LaunchResult:
    """Create the run, start the job, wait for it (local modes), and leave the run in its final state."""
    provenance = collect_provenance(cwd, argv)
    tracking_uri = tracking.resolve_tracking_uri(spec.tracking_uri, cwd)
    run = tracking.start_run(tracking_uri, spec.experiment, spec.run_name, flatten(spec.resolved),
                             run_tags(spec, provenance))
    try:
        job_name = make_job_name(spec.experiment, run.run_id, datetime.now(UTC))
        job_dir = (cwd / spec.work_dir / job_name).resolve()
        staged = stage_configs(spec, job_dir / "config")
        tracking.log_artifacts(run, artifact_pairs(job_dir / "config", staged))
        tracking.set_tags(run, {
            "launcher.job_name": job_name,
            "mlflow.note.content": describe_run(spec, provenance, job_name),
            **({} if spec.run_name else {"mlflow.runName": job_name}),
        })
        request = build_request(spec, run, job_name, config_uri=str(job_dir / "config"))
        outcome = execute(spec.mode, request, job_dir.parent)
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        tracking.end_run(run, status, f"launch failed: {error}")
        raise
    return LaunchResult(run, job_name, _settle(run, outcome), outcome, request)


def _settle(run: tracking.TrackedRun, outcome: JobOutcome) -> str:
    """Make the run's final state agree with the job's, whatever the container managed to record."""
    status = tracking.run_status(run)
    if outcome.status == COMPLETED:
        if status == "RUNNING":  # a task that never touched MLflow still completed
            tracking.end_run(run, "FINISHED")
            status = "FINISHED"
        if outcome.model_artifact:
            tracking.set_tags(run, {"launcher.model_artifact": outcome.model_artifact})
        return status
    if status in ("RUNNING", "FINISHED"):  # the container could not record its own failure
        status = "KILLED" if outcome.status == STOPPED else "FAILED"
        tracking.end_run(run, status, outcome.failure_reason)
    return status
