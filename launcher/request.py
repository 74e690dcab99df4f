"""Build the CreateTrainingJob request: a pure function of the spec and the run, and what `--dry-run` prints.

Every executor consumes this one request. The local ones lay it out as an /opt/ml tree, so a local smoke run
rehearses exactly what SageMaker would receive.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from launcher.params import flatten
from launcher.spec import LaunchSpec
from launcher.tracking import TrackedRun
from train.contract import CONFIG_CHANNEL

JOB_NAME_LIMIT = 63
LOCAL_IMAGE = "smlaunch-local-process"  # stands in for TrainingImage when no image runs (local-process)


def make_job_name(experiment: str, run_id: str, now: datetime) -> str:
    """`<experiment slug>-<run id[:8]>-<UTC time>`: unique, ≤ 63 chars, SageMaker's name pattern."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", experiment).strip("-") or "job"
    suffix = f"-{run_id[:8]}-{now:%Y%m%d-%H%M%S}"
    return slug[: JOB_NAME_LIMIT - len(suffix)].rstrip("-") + suffix


def data_uri(location: str) -> str:
    """S3 URIs as they are; local directories as file:// URIs (what SageMaker local mode uses too)."""
    return location if location.startswith("s3://") else Path(location).resolve().as_uri()


def container_environment(spec: LaunchSpec, run: TrackedRun) -> dict[str, str]:
    """The job's Environment: the user's variables plus the MLflow hand-over (the launcher's win on conflict)."""
    return {
        **spec.environment,
        "MLFLOW_TRACKING_URI": run.tracking_uri,
        "MLFLOW_EXPERIMENT_ID": run.experiment_id,
        "MLFLOW_RUN_ID": run.run_id,
    }


def build_request(spec: LaunchSpec, run: TrackedRun, job_name: str, config_uri: str) -> dict[str, Any]:
    """The CreateTrainingJob request for `spec`, tracked by `run`, with configs at `config_uri`."""
    channels = [_channel(CONFIG_CHANNEL, data_uri(config_uri), "File")]
    channels += [_channel(channel.name, data_uri(channel.uri), channel.input_mode) for channel in spec.channels]
    job = spec.job
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": job.image or LOCAL_IMAGE,
            "TrainingInputMode": "File",
        },
        # Mirrors of the training config for the SageMaker console; the container reads the config channel.
        "HyperParameters": flatten(spec.training),
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": data_uri(job.output_path)},
        "ResourceConfig": {
            "InstanceType": job.instance_type,
            "InstanceCount": job.instance_count,
            "VolumeSizeInGB": job.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime_seconds},
        "Environment": container_environment(spec, run),
        "Tags": [
            *({"Key": key, "Value": value} for key, value in spec.tags.items()),
            {"Key": "mlflow.run_id", "Value": run.run_id},
            {"Key": "mlflow.experiment_id", "Value": run.experiment_id},
        ],
    }
    if job.role_arn:
        request["RoleArn"] = job.role_arn
    return request


def _channel(name: str, uri: str, input_mode: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
        "InputMode": input_mode,
    }
