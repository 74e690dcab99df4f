"""Run a training request on SageMaker: send it, and optionally follow the job to its end.

Following polls DescribeTrainingJob, prints each status change, and streams every host's CloudWatch log
stream (`/aws/sagemaker/TrainingJobs/<job>/algo-N-…`) as new lines arrive.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from launcher.cloud.aws import Aws
from launcher.job.outcome import COMPLETED, FAILED, STOPPED, JobOutcome

TERMINAL = {"Completed": COMPLETED, "Failed": FAILED, "Stopped": STOPPED}
POLL_SECONDS = 15.0


def console_url(region: str, job_name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{job_name}"


def logs_url(region: str, job_name: str) -> str:
    group = "$252Faws$252Fsagemaker$252FTrainingJobs"
    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/"
            f"log-group/{group}$3FlogStreamNameFilter$3D{job_name}")


def submit(aws: Aws, request: dict[str, Any]) -> str:
    """CreateTrainingJob; returns the job's ARN."""
    return aws.create_training_job(request)


class LogFollower:
    """Prints new lines of every log stream of a job, prefixed by the stream's host."""

    def __init__(self, aws: Aws, job_name: str, write: Callable[[str], None]) -> None:
        self.aws, self.job_name, self.write = aws, job_name, write
        self.tokens: dict[str, str | None] = {}

    def poll(self) -> None:
        for stream in self.aws.job_log_streams(self.job_name):
            host = stream.split("/", 1)[-1].rsplit("-", 1)[0]  # <job>/algo-1-1700000000 → algo-1
            while True:
                messages, token = self.aws.new_log_events(stream, self.tokens.get(stream))
                for message in messages:
                    self.write(f"{host} | {message.rstrip()}\n")
                if token == self.tokens.get(stream):
                    break  # the same token twice means we are at the end of the stream for now
                self.tokens[stream] = token


def _to_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def follow(aws: Aws, job_name: str, poll_seconds: float = POLL_SECONDS,
           write: Callable[[str], None] = _to_stderr, max_polls: int | None = None) -> JobOutcome:
    """Wait for the job to end, printing status changes and logs; return how it ended."""
    logs = LogFollower(aws, job_name, write)
    last = ""
    polls = 0
    while True:
        job = aws.describe_training_job(job_name)
        status = f"{job['TrainingJobStatus']} / {job.get('SecondaryStatus', '')}".rstrip(" /")
        if status != last:
            write(f"[{job_name}] {status}\n")
            last = status
        logs.poll()
        if job["TrainingJobStatus"] in TERMINAL:
            return JobOutcome(
                job_name, TERMINAL[job["TrainingJobStatus"]], job.get("FailureReason"),
                job.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
            )
        polls += 1
        if max_polls is not None and polls >= max_polls:
            return JobOutcome(job_name, "InProgress")
        time.sleep(poll_seconds)
