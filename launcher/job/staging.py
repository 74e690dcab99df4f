"""Write the config files a job receives (its `config` channel) and the run keeps as artifacts.

Layout, identical in the channel, on S3 and under the run's `config/` artifacts:
  training.yaml        the resolved training config the container reads
  resolved.yaml        the whole resolved config (job + `train:`), overrides and defaults applied
  job/<file>           the job config file as written (and every file it `extends`)
  train/<file>         the training config file as written (and every file it `extends`)
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from launcher.config.spec import LaunchSpec, thaw
from train.contract import RESOLVED_CONFIG_FILE, TRAINING_CONFIG_FILE

CONFIG_ARTIFACT_DIR = "config"


PRIVATE = 0o600  # staged copies are the user's configs: readable by the user only


def _private(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)


def _dump(data: object, path: Path) -> None:
    with open(_private(path), "w", encoding="utf-8") as handle:
        yaml.safe_dump(thaw(data), handle, sort_keys=False, default_flow_style=False)


def stage_configs(spec: LaunchSpec, directory: Path) -> list[Path]:
    """Write the staged config files into `directory` (created) and return them."""
    (directory / "job").mkdir(parents=True, exist_ok=True, mode=0o700)
    (directory / "train").mkdir(exist_ok=True, mode=0o700)
    _dump(spec.training, directory / TRAINING_CONFIG_FILE)
    _dump(spec.resolved, directory / RESOLVED_CONFIG_FILE)
    copies = _copy_all(spec.sources.job_files, directory / "job")
    copies += _copy_all(spec.sources.training_files, directory / "train")
    return [directory / TRAINING_CONFIG_FILE, directory / RESOLVED_CONFIG_FILE, *copies]


def _copy_all(files: tuple[Path, ...], target: Path) -> list[Path]:
    """Copy files keeping their names; a name seen twice in a chain gets a numeric prefix."""
    copies: list[Path] = []
    for index, source in enumerate(files):
        repeated = any(other.name == source.name for other in files[index + 1 :])
        name = f"{index}-{source.name}" if repeated else source.name
        copies.append(target / name)
        with open(_private(copies[-1]), "wb") as handle:
            handle.write(source.read_bytes())
    return copies
