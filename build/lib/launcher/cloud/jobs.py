"""Find a launched job from its MLflow run ID or its SageMaker job name; report its state (settling a run
whose job has ended, see reconcile); stop it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws
from launcher.cloud.reconcile import settle_cloud_run, settle_local_run
from launcher.config.tracking_uri import redact
from launcher.errors import LauncherError
from launcher.tracking import client as tracking

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class JobRef:
    """Both ends of a launch: the MLflow run (if known) and the job."""

    job_name: str | None
    mode: str
    region: str | None
    run: tracking.TrackedRun | None
    work_dir: str | None = None  # a local job's trees are under <work_dir>/<job_name>


def find(identifier: str, tracking_uri: str, region: str | None) -> JobRef:
    """A run ID is looked up in MLflow (its tags name the job); anything else is taken as a job name."""
    if RUN_ID.match(identifier):
        recorded = tracking.get_run(tracking_uri, identifier)
        tags = recorded.data.tags
        found = tracking.TrackedRun(identifier, recorded.info.experiment_id, tracking_uri, "")
        return JobRef(tags.get("launcher.job_name"), tags.get("launcher.mode", "unknown"),
                      tags.get("launcher.region", region), found, recorded.data.params.get("local.work_dir"))
    aws = Aws(region)
    job = aws.describe_training_job(identifier)
    tags = aws.job_tags(job["TrainingJobArn"])
    run: tracking.TrackedRun | None = None
    if "mlflow.run_id" in tags:
        uri = tags.get("mlflow.tracking_uri", tracking_uri)
        run = tracking.TrackedRun(tags["mlflow.run_id"], tags.get("mlflow.experiment_id", ""), uri, "")
    return JobRef(identifier, "sagemaker", aws.region, run)


def status(ref: JobRef, aws: Aws | None = None) -> dict[str, Any]:
    """The run's and the job's state side by side; a run whose job has ended is settled first."""
    report: dict[str, Any] = {"job_name": ref.job_name, "mode": ref.mode}
    run_status = tracking.run_status(ref.run) if ref.run is not None else None
    if ref.mode == "sagemaker" and ref.job_name:
        aws = aws or Aws(ref.region)
        job = aws.describe_training_job(ref.job_name)
        report.update({"job_status": job["TrainingJobStatus"], "secondary_status": job.get("SecondaryStatus"),
                       "failure_reason": job.get("FailureReason"), "region": ref.region,
                       "billable_seconds": job.get("BillableTimeInSeconds")})
        if ref.run is not None:
            run_status = settle_cloud_run(ref.run, job, aws)
    elif ref.run is not None and ref.job_name and ref.work_dir:
        run_status = settle_local_run(ref.run, Path(ref.work_dir) / ref.job_name)
    if ref.run is not None:
        report.update({"run_id": ref.run.run_id, "tracking_uri": redact(ref.run.tracking_uri),
                       "run_status": run_status})
    return report


def stop(ref: JobRef, aws: Aws | None = None) -> dict[str, Any]:
    """Ask SageMaker to stop the job and end the run KILLED."""
    if ref.mode != "sagemaker" or not ref.job_name:
        raise LauncherError(f"only SageMaker jobs can be stopped this way (this one ran in mode '{ref.mode}'; "
                            "a local job stops with Ctrl-C)")
    aws = aws or Aws(ref.region)
    aws.stop_training_job(ref.job_name)
    if ref.run is not None and tracking.run_status(ref.run) == "RUNNING":
        tracking.end_run(ref.run, "KILLED", "stopped with smlaunch stop")
    return status(ref, aws)
