"""The `SM_*` variables AWS's training toolkit (`sagemaker-training`) would set, derived from the /opt/ml tree.

SageMaker itself sets none of them; its toolkit does, in images that run it. This image does not need the
toolkit, so the runtime computes the commonly used ones the same way (same names, same JSON formatting,
hyperparameters JSON-decoded) and exports them before the task runs. Because this happens in the container,
a task sees identical values on SageMaker and in a local run; a test holds them against the toolkit itself.
Stdlib only; nothing runs at import.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
from collections.abc import Mapping
from typing import Any

from train.contract.paths import TrainingEnvironment

SAGEMAKER_PREFIX = "sagemaker_"  # the toolkit keeps hyperparameters named sagemaker_* for itself
LOG_LEVEL_PARAM = "sagemaker_container_log_level"
DEFAULT_LOG_LEVEL = 20  # logging.INFO


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded where it parses (`"3"` → 3, `"[1, 2]"` → [1, 2]), else kept as the string."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (ValueError, TypeError):
            decoded[key] = value
    return decoded


def count_gpus() -> int:
    """GPUs visible to this container, counted as the toolkit does (`nvidia-smi --list-gpus`)."""
    try:
        listed = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listed.splitlines() if line.startswith("GPU "))


def _text(value: Any) -> str:
    """The toolkit's env value format: strings as they are, anything else as compact, sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _user_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The toolkit's `--name value` list (sorted by name; values as Python's str(), maps as k=v,k=v)."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        args.append(f"--{name}" if len(name) > 1 else f"-{name}")
        if isinstance(value, Mapping):
            args.append(",".join(f"{key}={item}" for key, item in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def toolkit_variables(env: TrainingEnvironment, num_gpus: int | None = None) -> dict[str, str]:
    """The SM_* variables for this host, as `sagemaker_training.environment.Environment().to_env_vars()`."""
    paths = env.paths
    resources = env.resource_config
    all_hyperparameters = decode_hyperparameters(env.hyperparameters)
    hyperparameters = {k: v for k, v in all_hyperparameters.items() if not k.startswith(SAGEMAKER_PREFIX)}
    group = resources.get("current_group_name", "homogeneousCluster")
    groups = resources.get("instance_groups", [])
    values: dict[str, Any] = {
        "hosts": list(env.hosts),
        "network_interface_name": resources.get("network_interface_name", "eth0"),
        "hps": hyperparameters,
        "resource_config": resources,
        "input_data_config": dict(env.channels),
        "output_data_dir": str(paths.output_data_dir),
        "channels": sorted(env.channels),
        "current_host": env.current_host,
        "current_instance_type": resources.get("current_instance_type", "local"),
        "current_instance_group": group,
        "current_instance_group_hosts": next((g["hosts"] for g in groups if g["instance_group_name"] == group), []),
        "instance_groups": [g["instance_group_name"] for g in groups],
        "is_hetero": len(groups) > 1,
        "log_level": all_hyperparameters.get(LOG_LEVEL_PARAM, DEFAULT_LOG_LEVEL),
        "input_dir": str(paths.input_dir),
        "input_config_dir": str(paths.input_config_dir),
        "output_dir": str(paths.output_dir),
        "num_cpus": multiprocessing.cpu_count(),
        "num_gpus": count_gpus() if num_gpus is None else num_gpus,
        "model_dir": str(paths.model_dir),
        "user_args": _user_args(hyperparameters),
        "output_intermediate_dir": str(paths.output_dir / "intermediate"),
    }
    values.update({f"channel_{name}": str(paths.channel_dir(name)) for name in env.channels})
    values.update({f"hp_{name}": value for name, value in hyperparameters.items()})
    return {f"SM_{key.upper()}": _text(value) for key, value in values.items()}
