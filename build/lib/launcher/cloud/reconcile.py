"""Settle a run whose job ended while no launcher was watching: what `smlaunch status` does before it reports.

For a SageMaker job, DescribeTrainingJob says how it ended (status, FailureReason, billable seconds); metric
points the container could not deliver are fetched from its output.tar.gz (the journal under smlaunch/) and
replayed. For a local job, the launcher left `outcome.json` beside the host trees. Either way the run ends as
the job did (tracking.lifecycle.settle), with the cost inputs recorded on it for cloud jobs.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws, split_s3_uri
from launcher.job.outcome import OUTCOME_FILE, TERMINAL, JobOutcome
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from launcher.tracking.lifecycle import settle
from train.bootstrap import unpack

RECORD_MEMBER = "smlaunch/"  # inside output.tar.gz: the container's journal and pending marker


def cost_tags(job: dict[str, Any]) -> dict[str, str]:
    """What the job cost, as SageMaker counts it: instance type and count, billable and training seconds, and
    the managed-spot saving (1 - billable / training)."""
    resources = job.get("ResourceConfig", {})
    tags = {"launcher.instance_type": str(resources.get("InstanceType", "")),
            "launcher.instance_count": str(resources.get("InstanceCount", ""))}
    billable, training = job.get("BillableTimeInSeconds"), job.get("TrainingTimeInSeconds")
    if billable is not None:
        tags["launcher.billable_seconds"] = str(billable)
    if training is not None:
        tags["launcher.training_seconds"] = str(training)
    if job.get("EnableManagedSpotTraining") and billable is not None and training:
        tags["launcher.spot_savings_percent"] = f"{100 * (1 - billable / training):.1f}"
    return tags


def cloud_outcome(job: dict[str, Any]) -> JobOutcome:
    output = job.get("OutputDataConfig", {}).get("S3OutputPath", "").rstrip("/")
    return JobOutcome(job["TrainingJobName"], job["TrainingJobStatus"], job.get("FailureReason"),
                      job.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
                      output_data=f"{output}/{job['TrainingJobName']}/output/output.tar.gz" if output else None)


def fetch_record(aws: Aws, output_tar: str, into: Path) -> Path | None:
    """The container's record (journal, pending marker) from the job's output.tar.gz, streamed; None if absent."""
    bucket, key = split_s3_uri(output_tar)
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    except Exception:  # no output (a job that failed early): nothing to replay
        return None
    with tarfile.open(fileobj=body, mode="r|gz") as tar:
        unpack(tar, into, prefix=RECORD_MEMBER)
    found = into / RECORD_MEMBER.rstrip("/")
    return found if found.is_dir() else None


def settle_cloud_run(run: TrackedRun, job: dict[str, Any], aws: Aws) -> str:
    """End `run` as its ended SageMaker job did; returns the run's status."""
    status = client.run_status(run)
    if job["TrainingJobStatus"] not in TERMINAL:
        return status
    if status == "RUNNING":
        client.set_tags(run, cost_tags(job))
    outcome = cloud_outcome(job)
    with tempfile.TemporaryDirectory(prefix="smlaunch-record-") as scratch:
        record = fetch_record(aws, outcome.output_data, Path(scratch)) if status == "RUNNING" and \
            outcome.output_data else None
        return settle(run, outcome, record)


def settle_local_run(run: TrackedRun, job_dir: Path) -> str:
    """End `run` as its local job did, from the outcome the launcher left beside the trees."""
    outcome = JobOutcome.load(job_dir / OUTCOME_FILE)
    status = client.run_status(run)
    if outcome is None or status != "RUNNING":
        return status
    return settle(run, outcome)
