"""Lay out a CreateTrainingJob request as SageMaker would on a host: the /opt/ml tree and the environment.

Shared by the local executors: `local-process` builds the tree under the job's work dir and points
SAGEMAKER_BASE_DIR at it; `local-container` mounts the same tree at /opt/ml.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from launcher.executors.pipes import PIPE_MODE, make_pipe, staged_files
from train.contract.files import PRIVATE_FILE, private_dir, write_atomically
from train.contract.paths import ContainerPaths

LOCAL_REGION = "local"  # stand-ins in the local job ARN (SageMaker puts its region and account there)
LOCAL_ACCOUNT = "000000000000"
SHARDED = "ShardedByS3Key"


def host_names(count: int) -> list[str]:
    """SageMaker's host names: algo-1 … algo-N."""
    return [f"algo-{index}" for index in range(1, count + 1)]


def local_path(uri: str) -> Path:
    """The local path of a file:// URI (or of a plain path)."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(uri)


def resource_config(request: dict[str, Any], host: str) -> dict[str, Any]:
    resources = request["ResourceConfig"]
    hosts = host_names(resources["InstanceCount"])
    return {
        "current_host": host,
        "current_instance_type": resources["InstanceType"],
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": resources["InstanceType"], "hosts": hosts}
        ],
        "network_interface_name": "eth0",
    }


def input_data_config(request: dict[str, Any]) -> dict[str, Any]:
    return {
        channel["ChannelName"]: {
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": channel["DataSource"]["S3DataSource"].get("S3DataDistributionType",
                                                                           "FullyReplicated"),
            "RecordWrapperType": "None",
        }
        for channel in request["InputDataConfig"]
    }


def lay_out_host(request: dict[str, Any], base: Path, host: str, copy_channels: bool = True) -> ContainerPaths:
    """Create the /opt/ml tree for `host` under `base`: config JSON files, channel data (unless the executor
    mounts it read-only instead), empty output dirs."""
    paths = ContainerPaths(base)
    for directory in (paths.input_config_dir, paths.data_dir, paths.model_dir, paths.output_data_dir,
                      paths.checkpoints_dir):
        private_dir(directory)
    _write_json(paths.hyperparameters_file, request.get("HyperParameters", {}))
    _write_json(paths.resource_config_file, resource_config(request, host))
    _write_json(paths.input_data_config_file, input_data_config(request))
    hosts = host_names(request["ResourceConfig"]["InstanceCount"])
    share = (hosts.index(host), len(hosts))
    for channel in request["InputDataConfig"]:
        name = channel["ChannelName"]
        part = share if is_sharded(channel) else None
        if channel.get("InputMode") == PIPE_MODE:  # a FIFO, fed by executors.pipes while the job runs
            _materialize(channel_source(channel), staged_files(paths, name), part)
            make_pipe(paths, name)
        elif copy_channels or part is not None:  # a host's shard is its own copy, never a mount of the whole
            _materialize(channel_source(channel), paths.channel_dir(name), part)
        else:
            private_dir(paths.channel_dir(name))  # the mount point
    return paths


def is_sharded(channel: dict[str, Any]) -> bool:
    return bool(channel["DataSource"]["S3DataSource"].get("S3DataDistributionType") == SHARDED)


def shard_files(source: Path, index: int, count: int) -> list[Path]:
    """ShardedByS3Key, emulated: host `index` of `count` gets file i of the sorted list when i mod count is its
    index (SageMaker gives each host about 1/N of the objects; which ones it does not document)."""
    files = sorted(path.relative_to(source) for path in source.rglob("*") if path.is_file())
    return [path for position, path in enumerate(files) if position % count == index]


def channel_source(channel: dict[str, Any]) -> Path:
    """The local directory (or file) a channel of the request reads."""
    return local_path(channel["DataSource"]["S3DataSource"]["S3Uri"])


def host_environment(request: dict[str, Any], host: str) -> dict[str, str]:
    """What SageMaker gives a host of this image: the request's Environment plus TRAINING_JOB_NAME and
    TRAINING_JOB_ARN. Nothing else: the `SM_*` variables come from AWS's training toolkit, which this image
    does not run; the container's runtime derives them itself from /opt/ml (train.toolkit_env), on SageMaker
    and here alike."""
    job_name = request["TrainingJobName"]
    return {
        **request.get("Environment", {}),
        "TRAINING_JOB_NAME": job_name,
        "TRAINING_JOB_ARN": f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:training-job/{job_name.lower()}",
    }


def _write_json(path: Path, data: Any) -> None:
    write_atomically(path, json.dumps(data, indent=2))


def _materialize(source: Path, target: Path, part: tuple[int, int] | None = None) -> None:
    """Put a channel's data in the tree as the job's own copy: the user's files can never be written through
    it (no hard links). Copies are reflinks where the file system can share blocks (btrfs, XFS): instant and
    free until written; elsewhere plain copies. `part` (index, count): only that host's shard of the files."""
    if part is not None and source.is_dir():
        private_dir(target)
        for relative in shard_files(source, *part):
            private_dir((target / relative).parent)
            clone_or_copy(str(source / relative), str(target / relative))
    elif source.is_dir():
        for root, _, files in os.walk(source):
            inside = target / Path(root).relative_to(source)
            private_dir(inside)
            for name in files:
                clone_or_copy(str(Path(root) / name), str(inside / name))
    else:
        private_dir(target)
        clone_or_copy(str(source), str(target / source.name))


FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


def clone_or_copy(source: str, target: str) -> str:
    """A copy-on-write clone of `source` at `target` when the file system supports it, else a copy; the job's
    own (0600, whatever the source's mode), with the source's times."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with open(source, "rb") as reading, os.fdopen(descriptor, "wb") as writing:
        try:
            fcntl.ioctl(writing.fileno(), FICLONE, reading.fileno())
        except OSError:  # not supported here (ext4, tmpfs, across file systems): copy the bytes
            shutil.copyfileobj(reading, writing, 1 << 20)
    found = os.stat(source)
    os.utime(target, ns=(found.st_atime_ns, found.st_mtime_ns))
    return target


def prune_job_trees(work_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` - 1 job trees under `work_dir` (room for the job about to start)."""
    if not work_dir.is_dir():
        return []
    jobs = [entry for entry in work_dir.iterdir()
            if entry.is_dir() and ((entry / "config").is_dir() or (entry / "algo-1").is_dir())]
    jobs.sort(key=lambda entry: entry.stat().st_mtime, reverse=True)
    removed = jobs[max(keep - 1, 0):]
    for entry in removed:
        shutil.rmtree(entry, ignore_errors=True)
    return removed
