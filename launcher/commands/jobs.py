"""`smlaunch status`, `stop` and `list`: find a launched job from its MLflow run ID or its job name, report its
state, stop it, and settle a run whose job ended while nobody watched.

A SageMaker job is asked (DescribeTrainingJob) and its run settled from its output (cloud.reconcile). A local
job is looked at on this machine: if it ended, its `outcome.json` says how; if it is gone without one (the
launcher died, with or without its hosts), its run is settled KILLED saying so, with the last step it logged.
A local job of another machine is reported as that machine's to settle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws
from launcher.cloud.reconcile import settle_cloud_run
from launcher.config.spec import LOCAL_MODES
from launcher.core.errors import LauncherError
from launcher.core.failsafe import guarded
from launcher.executors import local_jobs
from launcher.job.outcome import OUTCOME_FILE, STOPPED, JobOutcome
from launcher.tracking import client as tracking
from launcher.tracking.lifecycle import settle
from train.contract.uris import redact

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
LAUNCHER_DIED = "the launcher died (its process ended without ending the job's run)"
STOPPED_BY_COMMAND = "stopped with smlaunch stop"
HOST_TAG = "launcher.host"
JOB_DIR_TAG = "launcher.job_dir"
WORK_DIR_TAG = "launcher.location.local.work_dir"


@dataclass(frozen=True)
class JobRef:
    """Both ends of a launch: the MLflow run (if known) and the job."""

    job_name: str | None
    mode: str
    region: str | None
    run: tracking.TrackedRun | None
    job_dir: Path | None = None  # a local job's trees and outcome, on the machine that ran it
    host: str | None = None  # that machine

    @property
    def is_local(self) -> bool:
        return self.mode in LOCAL_MODES


def _from_run(recorded: Any, tracking_uri: str, region: str | None) -> JobRef:
    tags = recorded.data.tags
    run_id = recorded.info.run_id
    job_dir = Path(tags[JOB_DIR_TAG]) if JOB_DIR_TAG in tags else None
    if job_dir is None and WORK_DIR_TAG in tags:  # the launcher died before it recorded the job: its name has
        job_dir = next(iter(sorted(Path(tags[WORK_DIR_TAG]).glob(f"*-{run_id[:8]}-*"))), None)  # the run's ID
    job_name = tags.get("launcher.job_name") or (job_dir.name if job_dir else None)
    run = tracking.TrackedRun(run_id, recorded.info.experiment_id, tracking_uri, "")
    return JobRef(job_name, tags.get("launcher.mode", "unknown"), tags.get("launcher.region", region), run,
                  job_dir, tags.get(HOST_TAG))


def find(identifier: str, tracking_uri: str, region: str | None) -> JobRef:
    """A run ID is looked up in MLflow (its tags name the job); a job name in MLflow first (a local job's run is
    tagged with it), then in SageMaker."""
    if RUN_ID.match(identifier):
        return _from_run(tracking.get_run(tracking_uri, identifier), tracking_uri, region)
    local = guarded("look the job up in MLflow", tracking.find_runs, tracking_uri,
                    f"tags.`launcher.job_name` = '{identifier}'", 1)
    if local and local[0].data.tags.get("launcher.mode") in LOCAL_MODES:
        return _from_run(local[0], tracking_uri, region)
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
    elif ref.run is not None and ref.is_local:
        run_status, job_status = settle_local(ref)
        report["job_status"] = job_status
    if ref.run is not None:
        report.update({"run_id": ref.run.run_id, "tracking_uri": redact(ref.run.tracking_uri),
                       "run_status": run_status})
    return report


def settle_local(ref: JobRef) -> tuple[str, str]:
    """(run status, job status) of a local job, its run settled if the job is over: from its outcome, or as
    KILLED when the launcher died without leaving one."""
    assert ref.run is not None
    status = tracking.run_status(ref.run)
    if ref.job_dir is None:
        return status, "unknown"
    if ref.host and ref.host != local_jobs.this_machine():
        return status, f"ran on {ref.host}: look there"
    outcome = JobOutcome.load(ref.job_dir / OUTCOME_FILE)
    if outcome is None:
        if local_jobs.alive(ref.job_dir):
            return status, "InProgress"
        trees = local_jobs.trees(ref.job_dir)
        outcome = JobOutcome(ref.job_name or ref.job_dir.name, STOPPED, LAUNCHER_DIED,
                             output_data=str(trees[0].output_data_dir) if trees else None)
    if status != "RUNNING":
        return status, outcome.status
    return settle(ref.run, outcome), outcome.status


def stop(ref: JobRef, aws: Aws | None = None) -> dict[str, Any]:
    """Stop the job (StopTrainingJob; locally SIGTERM to its hosts) and end the run KILLED."""
    if ref.is_local:
        if ref.job_dir is None or (ref.host and ref.host != local_jobs.this_machine()):
            raise LauncherError(f"job {ref.job_name} ran on {ref.host or 'another machine'}: stop it there")
        if not local_jobs.stop(ref.job_dir, STOPPED_BY_COMMAND):
            raise LauncherError(f"job {ref.job_name} is not running (its run is "
                                f"{tracking.run_status(ref.run) if ref.run else 'unknown'})")
        if ref.run is not None and tracking.run_status(ref.run) == "RUNNING":  # the launcher was gone
            trees = local_jobs.trees(ref.job_dir)
            settle(ref.run, JobOutcome(ref.job_name or "", STOPPED, STOPPED_BY_COMMAND,
                                       output_data=str(trees[0].output_data_dir) if trees else None))
        return status(ref)
    if ref.mode != "sagemaker" or not ref.job_name:
        raise LauncherError(f"cannot stop a job of mode '{ref.mode}'")
    aws = aws or Aws(ref.region)
    aws.stop_training_job(ref.job_name)
    if ref.run is not None and tracking.run_status(ref.run) == "RUNNING":
        tracking.end_run(ref.run, "KILLED", STOPPED_BY_COMMAND)
    return status(ref, aws)


def settle_orphans(tracking_uri: str) -> list[str]:
    """Settle the RUNNING local runs of this machine in this store whose job is gone (the next launch and `list`
    do this); returns their run IDs."""
    found = tracking.find_runs(tracking_uri, f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = "
                                             f"'{local_jobs.this_machine()}'", 200)
    settled = []
    for recorded in found:
        ref = _from_run(recorded, tracking_uri, None)
        if ref.is_local and ref.job_dir is not None and not local_jobs.alive(ref.job_dir):
            run_status, _ = settle_local(ref)
            if run_status != "RUNNING":
                settled.append(recorded.info.run_id)
    return settled


def list_runs(tracking_uri: str, experiment: str | None, limit: int) -> list[dict[str, Any]]:
    """The store's most recent runs (of `experiment`), after settling this machine's orphans."""
    guarded("settle runs whose local job is gone", settle_orphans, tracking_uri)
    found = tracking.find_runs(tracking_uri, None, limit, experiment)
    return [{"run_id": run.info.run_id, "status": run.info.status, "experiment_id": run.info.experiment_id,
             "job_name": run.data.tags.get("launcher.job_name"), "mode": run.data.tags.get("launcher.mode"),
             "name": run.data.tags.get("mlflow.runName"), "reason": run.data.tags.get("launcher.failure_reason")}
            for run in found]
