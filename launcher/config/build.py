"""The validated job and training configs, with defaults applied, as one frozen LaunchSpec.

The config stays as the user wrote it (`resolved`: what the run's params and resolved.yaml record, the same on
every machine); where its paths point on this machine is the spec's typed fields (channels, code dirs, work
dir, output path, tracking URI) and, for the record, `locations` (tagged on the run, never a param).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launcher.config import tracking_uri
from launcher.config.spec import TRAIN_KEY, Channel, ConfigSources, Distribution, JobSettings, LaunchSpec, freeze
from launcher.config.tasks import TaskSource


def locations(job: dict[str, Any], channels: tuple[Channel, ...], code_dirs: tuple[Path, ...], cwd: Path,
              uri: str | None = None) -> dict[str, str]:
    """{param: where it points on this machine} for every path the config holds: channels and code relative to
    the file that set them, the work dir, a local output path and a local store relative to `cwd`."""
    found = {f"channels.{channel.name}.uri": channel.uri for channel in channels}
    found["code.dirs"] = ", ".join(str(directory) for directory in code_dirs)
    found["tracking.uri"] = uri or tracking_uri.resolve(job["tracking"]["uri"], cwd)
    found["local.work_dir"] = str((cwd / job["local"]["work_dir"]).resolve())
    output = job["sagemaker"]["output_path"]
    found["sagemaker.output_path"] = output if output.startswith("s3://") else str((cwd / output).resolve())
    return found


def build_spec(job: dict[str, Any], training: dict[str, Any], channels: tuple[Channel, ...],
               code_dirs: tuple[Path, ...], sources: ConfigSources, task: TaskSource | None,
               warnings: tuple[str, ...], located: dict[str, str],
               channel_files: tuple[tuple[str, str, str], ...] = ()) -> LaunchSpec:
    sagemaker = job["sagemaker"]
    return LaunchSpec(
        experiment=job["experiment"],
        mode=job["mode"],
        run_name=job.get("run_name"),
        description=job.get("description"),
        tracking_uri=located["tracking.uri"],
        job=JobSettings(
            instance_type=sagemaker["instance_type"],
            instance_count=sagemaker["instance_count"],
            volume_size_gb=sagemaker["volume_size_gb"],
            max_runtime_seconds=sagemaker["max_runtime_seconds"],
            output_path=located["sagemaker.output_path"],
            image=sagemaker.get("image"),
            role_arn=sagemaker.get("role_arn"),
            region=sagemaker.get("region"),
            config_prefix=sagemaker.get("config_prefix"),
            spot=sagemaker.get("spot", {}).get("enabled", False),
            spot_max_wait_seconds=sagemaker.get("spot", {}).get("max_wait_seconds"),
            checkpoint_s3_uri=sagemaker.get("checkpoint_s3_uri"),
            keep_alive_seconds=sagemaker.get("keep_alive_seconds"),
            subnets=tuple(sagemaker.get("vpc", {}).get("subnets", ())),
            security_group_ids=tuple(sagemaker.get("vpc", {}).get("security_group_ids", ())),
            remote_debug=sagemaker["remote_debug"],
            job_name=sagemaker.get("job_name"),
            output_kms_key=sagemaker.get("output_kms_key"),
            volume_kms_key=sagemaker.get("volume_kms_key"),
        ),
        channels=channels,
        environment=freeze(job["environment"]),
        tags=freeze(job["tags"]),
        work_dir=Path(located["local.work_dir"]),
        training=freeze(training),
        resolved=freeze({**job, TRAIN_KEY: training}),
        sources=sources,
        register_as=job["tracking"].get("register_as"),
        keep_jobs=job["local"]["keep_jobs"],
        secrets=freeze(job["secrets"]),
        not_secrets=tuple(job["not_secrets"]),
        code_dirs=code_dirs,
        code_max_bytes=int(job["code"]["max_mb"] * 1024 * 1024),
        task=task,
        warnings=warnings,
        channel_files=channel_files,
        tracking_assumed_reachable=job["tracking"]["assume_reachable"],
        distribution=Distribution(**job["distribution"]),
        locations=freeze(located),
    )
