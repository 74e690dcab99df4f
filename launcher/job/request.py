"""Build the CreateTrainingJob request: a pure function of the spec and the run, and what `--dry-run` prints.

Every executor consumes this one request. The local ones lay it out as an /opt/ml tree, so a local smoke run
rehearses exactly what SageMaker would receive. The training config travels whole in the `config` channel, so a
config of any size fits: HyperParameters carry nothing for a training job (SageMaker itself needs none; a
tuning job's tuned keys are the tuner's, see sweep.tuner), and the Environment only the hand-over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from launcher.config import sagemaker_api
from launcher.config.limits import LAUNCHER_JOB_TAGS
from launcher.config.spec import LaunchSpec
from train.contract.handover import (
    BACKEND_ENV,
    DISTRIBUTION_ENV,
    EXPERIMENT_ID_ENV,
    PROCESSES_PER_HOST_ENV,
    REGISTER_AS_ENV,
    RESUMABLE_ENV,
    RUN_ID_ENV,
    SECRET_ENV_PREFIX,
    TRACKING_URI_ENV,
)
from train.contract.paths import CODE_CHANNEL, CONFIG_CHANNEL, DEFAULT_BASE_DIR, ContainerPaths
from train.contract.uris import redact

CHECKPOINTS_DIR = str(ContainerPaths(Path(DEFAULT_BASE_DIR)).checkpoints_dir)
LOCAL_IMAGE = "smlaunch-local-process"  # stands in for TrainingImage when no image runs (local-process)


class RunHandle(Protocol):
    """What the request needs of the MLflow run: its IDs and where it is tracked (no MLflow types)."""

    @property
    def run_id(self) -> str: ...

    @property
    def experiment_id(self) -> str: ...

    @property
    def tracking_uri(self) -> str: ...


@dataclass(frozen=True)
class RunIds:
    """A RunHandle from plain values (the dry-run's placeholders, a shell without a run)."""

    run_id: str
    experiment_id: str
    tracking_uri: str


def staged_location(spec: LaunchSpec, run_id: str, job_name: str, channel: str = CONFIG_CHANNEL) -> str:
    """Where the job reads a staged channel (its configs, its code): `<config prefix>/<experiment>/<run id>/
    <channel>/` on S3, or the job's staging dir locally."""
    if spec.mode == "sagemaker":
        return f"{(spec.job.config_prefix or '').rstrip('/')}/{spec.experiment}/{run_id}/{channel}/"
    return str(spec.work_dir / job_name / channel)


def config_location(spec: LaunchSpec, run_id: str, job_name: str) -> str:
    return staged_location(spec, run_id, job_name, CONFIG_CHANNEL)


def make_job_name(experiment: str, run_id: str, now: datetime, limit: int | None = None) -> str:
    """`<experiment slug>-<run id[:8]>-<UTC time>`: unique, ≤ `limit` chars (by default a training job's, from
    SageMaker's API table; a tuning job's is shorter: the slug is cut first), SageMaker's name pattern."""
    limit = limit or int(sagemaker_api.limit("job_name_chars"))
    slug = re.sub(r"[^A-Za-z0-9]+", "-", experiment).strip("-") or "job"
    suffix = f"-{run_id[:8]}-{now:%Y%m%d-%H%M%S}"
    return (slug[: max(limit - len(suffix), 1)].rstrip("-") or "j") + suffix


def data_uri(location: str) -> str:
    """S3 URIs as they are; local directories as file:// URIs (what SageMaker local mode uses too)."""
    return location if location.startswith("s3://") else Path(location).resolve().as_uri()


def container_environment(spec: LaunchSpec, run: RunHandle, secret_refs: Mapping[str, str] | None = None
                          ) -> dict[str, str]:
    """The job's Environment: the user's variables, references to its secrets (never their values) and the
    MLflow hand-over (the launcher's win on conflict)."""
    handover = {
        **spec.environment,
        **{SECRET_ENV_PREFIX + name: ref for name, ref in (secret_refs or spec.secrets).items()},
        TRACKING_URI_ENV: run.tracking_uri,
        EXPERIMENT_ID_ENV: run.experiment_id,
        RUN_ID_ENV: run.run_id,
    }
    if spec.register_as:
        handover[REGISTER_AS_ENV] = spec.register_as
    if spec.job.spot:  # a SIGTERM is then a reclaim: the container checkpoints and keeps the run RUNNING
        handover[RESUMABLE_ENV] = "true"
    if spec.distribution.torchrun:  # each host's entry starts its workers under torch.distributed.run
        handover[DISTRIBUTION_ENV] = spec.distribution.type
        handover[PROCESSES_PER_HOST_ENV] = str(spec.distribution.processes_per_host)
        handover[BACKEND_ENV] = spec.distribution.backend
    return handover


def job_tags(spec: LaunchSpec, run: RunHandle) -> list[dict[str, str]]:
    """The user's tags plus the MLflow run, experiment and tracking URI (without credentials), as AWS tags."""
    run_tag, experiment_tag, uri_tag = LAUNCHER_JOB_TAGS
    tags = [{"Key": key, "Value": value} for key, value in spec.tags.items()]
    tags += [{"Key": run_tag, "Value": run.run_id}, {"Key": experiment_tag, "Value": run.experiment_id}]
    public_uri = redact(run.tracking_uri)
    if len(public_uri) <= sagemaker_api.limit("tag_value_chars") and sagemaker_api.tag_value_ok(public_uri):
        tags.append({"Key": uri_tag, "Value": public_uri})
    return tags


def build_request(
    spec: LaunchSpec, run: RunHandle, job_name: str, config_uri: str, image: str | None = None,
    secret_refs: Mapping[str, str] | None = None, code_uri: str | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request for `spec`, tracked by `run`, with configs at `config_uri` (and the
    packed code at `code_uri`, its own channel).

    `image` replaces the configured image (the launcher passes the tag resolved to its @sha256 digest);
    `secret_refs` the configured secret names (pre-flight resolves them to ARNs).
    """
    channels = [_channel(CONFIG_CHANNEL, data_uri(config_uri), "File")]
    if code_uri is not None:
        channels.append(_channel(CODE_CHANNEL, data_uri(code_uri), "File"))
    channels += [_channel(channel.name, data_uri(channel.uri), channel.input_mode, channel.distribution)
                 for channel in spec.channels]
    job = spec.job
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": image or job.image or LOCAL_IMAGE,
            "TrainingInputMode": "File",
        },
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": data_uri(job.output_path),
                             **({"KmsKeyId": job.output_kms_key} if job.output_kms_key else {})},
        "ResourceConfig": {
            "InstanceType": job.instance_type,
            "InstanceCount": job.instance_count,
            "VolumeSizeInGB": job.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime_seconds},
        "Environment": container_environment(spec, run, secret_refs),
        "Tags": job_tags(spec, run),
    }
    if job.role_arn:
        request["RoleArn"] = job.role_arn
    if job.spot:
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = job.spot_max_wait_seconds or job.max_runtime_seconds
    if job.checkpoint_s3_uri:
        request["CheckpointConfig"] = {"S3Uri": job.checkpoint_s3_uri, "LocalPath": CHECKPOINTS_DIR}
    if job.volume_kms_key:
        request["ResourceConfig"]["VolumeKmsKeyId"] = job.volume_kms_key
    if job.keep_alive_seconds is not None:
        request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = job.keep_alive_seconds
    if job.remote_debug:
        request["RemoteDebugConfig"] = {"EnableRemoteDebug": True}
    if job.subnets:
        request["VpcConfig"] = {"Subnets": list(job.subnets), "SecurityGroupIds": list(job.security_group_ids)}
    return request


def _channel(name: str, uri: str, input_mode: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}
        },
        "InputMode": input_mode,
    }
