"""LaunchSpec: the validated, resolved, immutable description of one launch. Built once, read everywhere after."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from train.contract.paths import TRAIN_KEY as TRAIN_KEY  # re-exported: the config layer's name for it

if TYPE_CHECKING:
    from launcher.config.tasks import TaskSource

LOCAL_MODES = ("local-process", "local-container")
LOCAL = "local"  # the local instance type: this machine's CPUs
LOCAL_GPU = "local_gpu"  # the local instance type that gives the job this machine's GPUs


@dataclass(frozen=True)
class Channel:
    """One input data channel: its name, where the data is (s3:// or an absolute local path) and input mode."""

    name: str
    uri: str
    input_mode: str
    distribution: str = "FullyReplicated"  # or ShardedByS3Key: each host gets ~1/N of the objects


@dataclass(frozen=True)
class Distribution:
    """How the task runs on each host: once ('none') or under torchrun with a process group over all hosts."""

    type: str = "none"
    processes_per_host: str | int = "auto"  # 'auto': the host's GPU count, 1 without GPUs
    backend: str = "auto"  # 'auto': nccl with GPUs, gloo without

    @property
    def torchrun(self) -> bool:
        return self.type == "torchrun"


@dataclass(frozen=True)
class JobSettings:
    """The SageMaker job settings, with schema defaults applied."""

    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_seconds: int
    output_path: str
    image: str | None
    role_arn: str | None
    region: str | None = None
    config_prefix: str | None = None
    spot: bool = False
    spot_max_wait_seconds: int | None = None
    checkpoint_s3_uri: str | None = None
    keep_alive_seconds: int | None = None
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    remote_debug: bool = False
    job_name: str | None = None
    output_kms_key: str | None = None
    volume_kms_key: str | None = None


@dataclass(frozen=True)
class ConfigSources:
    """The files a spec came from (each chain base first, as `extends` built it) and the overrides on top."""

    job_files: tuple[Path, ...]
    training_files: tuple[Path, ...]
    overrides: tuple[str, ...]

    @property
    def job_file(self) -> Path:
        return self.job_files[-1]

    @property
    def training_file(self) -> Path:
        return self.training_files[-1]


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start a job, validated; `resolved` is the merged config as written (defaults filled
    in), as its params and resolved.yaml record it; the typed fields say where its paths point here."""

    experiment: str
    mode: str
    run_name: str | None
    description: str | None
    tracking_uri: str
    job: JobSettings
    channels: tuple[Channel, ...]
    environment: Mapping[str, str]
    tags: Mapping[str, str]
    work_dir: Path
    training: Mapping[str, Any]
    resolved: Mapping[str, Any]
    sources: ConfigSources
    register_as: str | None = None
    keep_jobs: int = 10
    secrets: Mapping[str, str] = field(default_factory=dict)  # environment variable → Secrets Manager reference
    not_secrets: tuple[str, ...] = ()  # paths the credential check lets through (recorded on the run)
    code_dirs: tuple[Path, ...] = ()  # package directories packed into the job's `code` channel
    code_max_bytes: int = 20 * 1024 * 1024
    task: TaskSource | None = None
    warnings: tuple[str, ...] = ()  # things worth saying that are not errors (printed by the CLI)
    channel_files: tuple[tuple[str, str, str], ...] = ()  # (field, channel, file) the task opens
    tracking_assumed_reachable: bool = False
    distribution: Distribution = field(default_factory=Distribution)
    locations: Mapping[str, str] = field(default_factory=dict)  # param → where it points here (tags, not params)

    @property
    def is_local(self) -> bool:
        return self.mode in LOCAL_MODES


def freeze(value: Any) -> Any:
    """A read-only view of nested dicts/lists (mappings become MappingProxyType, lists tuples)."""
    if isinstance(value, dict):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again (for YAML/JSON output) from a frozen value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value
