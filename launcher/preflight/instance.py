"""The instance type as EC2 describes it (DescribeInstanceTypes): its GPUs against the job's torchrun settings,
and its local storage against a 0 GB volume. The live answer wins over the table the config was checked with."""

from __future__ import annotations

from typing import Any

from launcher.cloud.aws import Aws, AwsError
from launcher.config import sagemaker_api
from launcher.config.distribution_rules import gpu_problems
from launcher.config.spec import LaunchSpec
from launcher.preflight.report import Caveat


def described(aws: Aws, kind: str) -> tuple[int | None, int | None, str]:
    """(GPUs, instance storage GB, where that came from) for a SageMaker instance type."""
    try:
        found: dict[str, Any] | None = aws.instance_type(kind)
    except AwsError:
        found = None
    if found is not None:
        gpus = sum(gpu.get("Count", 0) for gpu in found.get("GpuInfo", {}).get("Gpus", []))
        return gpus, int(found.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0)), "EC2"
    return sagemaker_api.gpus(kind), sagemaker_api.local_storage_gb(kind), "smlaunch's table"


def check_instance(aws: Aws, spec: LaunchSpec) -> str:
    kind = spec.job.instance_type
    gpus, storage, source = described(aws, kind)
    if spec.distribution.torchrun:
        problems = gpu_problems(kind, gpus, spec.distribution.processes_per_host, spec.distribution.backend)
        if problems:
            raise AwsError("; ".join(f"distribution.{field}: {message}" for field, message in problems))
    if spec.job.volume_size_gb == 0 and storage == 0:
        raise AwsError(f"sagemaker.volume_size_gb is 0 and {kind} has no instance storage: the job would have no "
                       "disk for its data and model; give it a volume (e.g. 30)")
    unknown = [what for what, value in (("GPU count", gpus), ("instance storage", storage)) if value is None]
    detail = f"{kind}: {gpus if gpus is not None else '?'} GPU(s), {storage if storage is not None else '?'} GB " \
             f"of instance storage ({source})"
    if unknown and (spec.distribution.torchrun or spec.job.volume_size_gb == 0):
        raise Caveat(f"{detail}: its {' and '.join(unknown)} could not be checked")
    return detail
