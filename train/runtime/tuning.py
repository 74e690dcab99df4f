"""A tuning trial's side of the hand-over: SageMaker's tuner, not the launcher, starts the job.

The tuner writes each trial's values into hyperparameters.json under the training config's dotted paths
(`optimizer.lr`, `model.backbone.stage4.depth`); SMLAUNCH_TUNED names the ones it chose, and only those are
applied to the training config, read back with the params codec (train.contract.params). With no run of its
own (no MLFLOW_RUN_ID) the trial records under the sweep's parent run: the child's params are the sweep's
resolved config (config/resolved.yaml) with the tuned values in place, as for any launch.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from train.contract.handover import TUNED_ENV
from train.contract.params import read_param
from train.contract.paths import CONFIG_CHANNEL, RESOLVED_CONFIG_FILE, TRAIN_KEY, ContainerPaths


def tuned_values(hyperparameters: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The tuned hyperparameters, typed as the params codec reads them (`0.01` a float, `[128, 64]` a list)."""
    names = [name for name in environ.get(TUNED_ENV, "").split(",") if name]
    return {name: read_param(str(hyperparameters[name])) for name in names if name in hyperparameters}


def apply_tuned(config: Mapping[str, Any], tuned: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the training config with each tuned dotted path set."""
    result = copy.deepcopy(dict(config))
    for name, value in tuned.items():
        target = result
        *parents, last = name.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return result


def read_hyperparameters(paths: ContainerPaths) -> dict[str, str]:
    try:
        found = json.loads(paths.hyperparameters_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def child_config(paths: ContainerPaths, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The trial run's resolved config: the one the sweep staged, with this trial's values."""
    import yaml

    resolved_file: Path = paths.channel_dir(CONFIG_CHANNEL) / RESOLVED_CONFIG_FILE
    resolved = yaml.safe_load(resolved_file.read_text(encoding="utf-8")) if resolved_file.is_file() else {}
    resolved = resolved if isinstance(resolved, dict) else {}
    tuned = tuned_values(read_hyperparameters(paths), environ)
    resolved[TRAIN_KEY] = apply_tuned(resolved.get(TRAIN_KEY) or {}, tuned)
    return resolved
