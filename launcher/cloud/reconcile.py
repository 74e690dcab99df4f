"""Settle a run whose job ended while no launcher was watching: what `smlaunch status` does before it reports.

For a SageMaker job, DescribeTrainingJob says how it ended (status, FailureReason, billable seconds); the job's
record comes from its output.tar.gz (the journal, what was left pending, whether the task returned) and, for a
model it could not log, its model.tar.gz. An object that is not there means the job wrote none; any other
answer from S3 (AccessDenied, a throttle) is reported, and the run is left as it is, its points still pending.
For a local job, the launcher left `outcome.json` beside the host trees. Either way the run ends as the job
did (tracking.lifecycle.settle), with the cost inputs recorded on it for cloud jobs.
"""

from __future__ import annotations

import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws
from launcher.job.outcome import COMPLETED, FAILED, NOT_RETURNED, OUTCOME_FILE, TERMINAL, JobOutcome
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from launcher.tracking.lifecycle import settle
from train.contract.archive import unpack
from train.contract.journal import read_marker
from train.contract.paths import ContainerPaths

RECORD_MEMBER = "smlaunch/"  # inside output.tar.gz (output/data/): the container's record


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


def fetch_record(aws: Aws, outcome: JobOutcome, tree: ContainerPaths) -> bool:
    """The container's record from the job's output.tar.gz into `tree` (and, when it left its model pending,
    model.tar.gz into the tree's model dir); False when the job left no output. AwsError for any other answer."""
    body = aws.read_object(outcome.output_data) if outcome.output_data else None
    if body is None:
        return False
    with tarfile.open(fileobj=body, mode="r|gz") as tar:
        unpack(tar, tree.output_data_dir, prefix=RECORD_MEMBER)
    if read_marker(tree.pending_file).get("model") and outcome.model_artifact:
        model = aws.read_object(outcome.model_artifact)
        if model is not None:
            with tarfile.open(fileobj=model, mode="r|gz") as tar:
                unpack(tar, tree.model_dir)
    return True


def settle_cloud_run(run: TrackedRun, job: dict[str, Any], aws: Aws) -> str:
    """End `run` as its ended SageMaker job did; returns the run's status."""
    status = client.run_status(run)
    if job["TrainingJobStatus"] not in TERMINAL or status != "RUNNING":
        return status
    outcome = cloud_outcome(job)
    with tempfile.TemporaryDirectory(prefix="smlaunch-record-") as scratch:
        tree = ContainerPaths(Path(scratch))
        found = fetch_record(aws, outcome, tree)  # before anything is recorded: an S3 refusal changes nothing
        client.set_tags(run, cost_tags(job))
        if found and outcome.status == COMPLETED and tree.metrics_journal.exists() and not tree.ended_file.exists():
            outcome = replace(outcome, status=FAILED, failure_reason=NOT_RETURNED)
        return settle(run, outcome, tree if found else None)


def settle_local_run(run: TrackedRun, job_dir: Path) -> str:
    """End `run` as its local job did, from the outcome the launcher left beside the trees."""
    outcome = JobOutcome.load(job_dir / OUTCOME_FILE)
    status = client.run_status(run)
    if outcome is None or status != "RUNNING":
        return status
    return settle(run, outcome)
