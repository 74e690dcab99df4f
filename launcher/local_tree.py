"""Lay out a CreateTrainingJob request as SageMaker would on a host: the /opt/ml tree and the SM_* environment.

Shared by the local executors: `local-process` builds the tree under the job's work dir and points
SAGEMAKER_BASE_DIR at it; `local-container` mounts the same tree at /opt/ml.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from train.contract import BASE_DIR_ENV, ContainerPaths


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
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for channel in request["InputDataConfig"]
    }


def lay_out_host(request: dict[str, Any], base: Path, host: str) -> ContainerPaths:
    """Create the /opt/ml tree for `host` under `base`: config JSON files, channel data, empty output dirs."""
    paths = ContainerPaths(base)
    for directory in (paths.input_config_dir, paths.data_dir, paths.model_dir, paths.output_data_dir,
                      paths.checkpoints_dir):
        directory.mkdir(parents=True, exist_ok=True)
    _write_json(paths.hyperparameters_file, request.get("HyperParameters", {}))
    _write_json(paths.resource_config_file, resource_config(request, host))
    _write_json(paths.input_data_config_file, input_data_config(request))
    for channel in request["InputDataConfig"]:
        source = local_path(channel["DataSource"]["S3DataSource"]["S3Uri"])
        _materialize(source, paths.channel_dir(channel["ChannelName"]))
    return paths


def sagemaker_environment(request: dict[str, Any], paths: ContainerPaths, host: str) -> dict[str, str]:
    """The variables SageMaker's training toolkit sets, plus the request's Environment and the base-dir seam."""
    hyperparameters: dict[str, str] = request.get("HyperParameters", {})
    channels = sorted(channel["ChannelName"] for channel in request["InputDataConfig"])
    resources = resource_config(request, host)
    env = {
        "SM_HOSTS": json.dumps(resources["hosts"]),
        "SM_CURRENT_HOST": host,
        "SM_CURRENT_INSTANCE_TYPE": resources["current_instance_type"],
        "SM_NETWORK_INTERFACE_NAME": resources["network_interface_name"],
        "SM_NUM_GPUS": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_LOG_LEVEL": "20",
        "SM_USER_ARGS": "[]",
        "SM_HPS": json.dumps(hyperparameters),
        "SM_CHANNELS": json.dumps(channels),
        "SM_MODEL_DIR": str(paths.model_dir),
        "SM_INPUT_DIR": str(paths.input_dir),
        "SM_INPUT_CONFIG_DIR": str(paths.input_config_dir),
        "SM_OUTPUT_DIR": str(paths.output_dir),
        "SM_OUTPUT_DATA_DIR": str(paths.output_data_dir),
        "SM_RESOURCE_CONFIG": json.dumps(resources),
        "SM_INPUT_DATA_CONFIG": json.dumps(input_data_config(request)),
        BASE_DIR_ENV: str(paths.base),
    }
    env.update({f"SM_CHANNEL_{name.upper()}": str(paths.channel_dir(name)) for name in channels})
    env.update({f"SM_HP_{name.upper()}": value for name, value in hyperparameters.items()})
    env.update(request.get("Environment", {}))
    return env


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _materialize(source: Path, target: Path) -> None:
    """Copy a channel's data in; hard links where the file system allows (input is read-only by contract)."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        _link_or_copy(str(source), str(target / source.name))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
