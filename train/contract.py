"""SageMaker's /opt/ml contract, read from files, stdlib only, nothing done at import time.

Every path derives from one base directory, `/opt/ml` unless `SAGEMAKER_BASE_DIR` says otherwise: that one seam
lets the local executor and the tests lay out a tree anywhere. The launcher imports the names below too, so
both sides agree on the config channel, the training config's file name and the entry module.

Note: SageMaker sets the `SM_*` variables only when its training toolkit is in the image. This image does not
need the toolkit, so everything here comes from the files SageMaker always writes under input/config/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BASE_DIR = "/opt/ml"
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"
CONFIG_CHANNEL = "config"  # the launcher delivers the configs as this input channel
TRAINING_CONFIG_FILE = "training.yaml"  # the resolved training config inside the config channel
ENTRY_MODULE = "train"  # `python -m train`; the image's `train` command (what SageMaker runs) does the same
FAILURE_REASON_LIMIT = 1024  # SageMaker shows the first 1024 characters of output/failure as FailureReason


@dataclass(frozen=True)
class ContainerPaths:
    """The /opt/ml tree (or its stand-in under another base directory)."""

    base: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ContainerPaths:
        return cls(Path(environ.get(BASE_DIR_ENV, DEFAULT_BASE_DIR)))

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def input_config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.input_config_dir / "hyperparameters.json"

    @property
    def resource_config_file(self) -> Path:
        return self.input_config_dir / "resourceconfig.json"

    @property
    def input_data_config_file(self) -> Path:
        return self.input_config_dir / "inputdataconfig.json"

    @property
    def data_dir(self) -> Path:
        return self.input_dir / "data"

    def channel_dir(self, name: str) -> Path:
        return self.data_dir / name

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def checkpoints_dir(self) -> Path:
        return self.base / "checkpoints"

    @property
    def training_config_file(self) -> Path:
        return self.channel_dir(CONFIG_CHANNEL) / TRAINING_CONFIG_FILE


@dataclass(frozen=True)
class TrainingEnvironment:
    """What SageMaker tells the container about this job: hosts, hyperparameters, channels."""

    paths: ContainerPaths
    current_host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def is_primary(self) -> bool:
        """The first host does the run-level work (tracking, model logging); others only train."""
        return self.current_host == sorted(self.hosts)[0]

    @classmethod
    def read(cls, paths: ContainerPaths) -> TrainingEnvironment:
        """Read input/config/*.json; missing files mean a single host with no hyperparameters."""
        resources = _read_json(paths.resource_config_file, {})
        return cls(
            paths=paths,
            current_host=str(resources.get("current_host", "algo-1")),
            hosts=tuple(resources.get("hosts", ["algo-1"])),
            hyperparameters=_read_json(paths.hyperparameters_file, {}),
            channels=_read_json(paths.input_data_config_file, {}),
        )


def _read_json(path: Path, default: dict[str, Any]) -> dict[str, Any]:
    if not path.exists():
        return default
    with path.open(encoding="utf-8") as handle:
        value: dict[str, Any] = json.load(handle)
    return value
