"""SageMaker's and MLflow's limits on what a launch sends, checked on the resolved spec before anything is created.

The numbers come from their owners: SageMaker's from the API table generated from botocore's model
(sagemaker_api), MLflow's from train.contract.mlflow_rules. Breaking one would otherwise fail only after the
run exists (MLflow) or after the request is sent (SageMaker). A training config of any size is fine: it travels
whole in the `config` channel, and a param value longer than MLflow keeps is recorded as a stand-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from launcher.config import sagemaker_api
from launcher.config.spec import LaunchSpec
from launcher.config.yaml_source import ConfigPath, Location, problem
from launcher.core.errors import ConfigProblem
from train.contract.handover import handover_variables
from train.contract.mlflow_rules import name_problem
from train.contract.params import flatten_paths

LAUNCHER_JOB_TAGS = ("mlflow.run_id", "mlflow.experiment_id", "mlflow.tracking_uri")  # job.request.job_tags


def check_limits(spec: LaunchSpec, locate: Callable[..., Location]) -> list[ConfigProblem]:
    """Every limit `spec` breaks, located via `locate(path, key=...)` (a key's problem at the key)."""
    found: list[ConfigProblem] = []

    def add(path: ConfigPath, message: str, key: bool = False) -> None:
        found.append(problem(locate(path, key=key), path, message))

    _environment(spec, add)
    _tags(spec, add)
    for path in flatten_paths(spec.resolved):
        why = name_problem(".".join(path))
        if why is not None:
            add(path, f"cannot be an MLflow param name: {why}", key=True)
    return found


def _environment(spec: LaunchSpec, add: Callable[..., None]) -> None:
    entries, key_chars = sagemaker_api.limit("environment_entries"), sagemaker_api.limit("environment_key_chars")
    value_chars = sagemaker_api.limit("environment_value_chars")
    key_pattern = re.compile(sagemaker_api.limit("environment_key_pattern"))
    if len(spec.tracking_uri) > value_chars:
        add(("tracking", "uri"), f"longer than {value_chars} characters (SageMaker's Environment limit)")
    handover = len(handover_variables(bool(spec.register_as), spec.job.spot, tuple(spec.secrets),
                                      spec.distribution.torchrun))
    if len(spec.environment) + handover > entries:
        add(("environment",), f"{len(spec.environment)} variables plus smlaunch's {handover}; SageMaker takes at most "
                              f"{entries} Environment entries")
    for name, value in spec.environment.items():
        if len(name) > key_chars or not key_pattern.fullmatch(name):
            add(("environment", name), f"not an environment variable name SageMaker takes (letters, digits and '_', "
                                       f"not starting with a digit, at most {key_chars} characters)", key=True)
        if len(value) > value_chars:
            add(("environment", name), f"value is {len(value)} characters; SageMaker's limit is {value_chars}")


def _tags(spec: LaunchSpec, add: Callable[..., None]) -> None:
    room = sagemaker_api.limit("tags") - len(LAUNCHER_JOB_TAGS)
    key_chars, value_chars = sagemaker_api.limit("tag_key_chars"), sagemaker_api.limit("tag_value_chars")
    if len(spec.tags) > room:
        add(("tags",), f"{len(spec.tags)} tags; SageMaker takes {sagemaker_api.limit('tags')} and smlaunch adds "
                       f"{len(LAUNCHER_JOB_TAGS)} ({', '.join(LAUNCHER_JOB_TAGS)}): at most {room}")
    allowed = "letters, digits, spaces and _ . : / = + - @"
    for key, value in spec.tags.items():
        if not 1 <= len(key) <= key_chars or not sagemaker_api.tag_value_ok(key):
            add(("tags", key), f"tag keys are 1-{key_chars} {allowed}", key=True)
        why = name_problem(key)
        if why is not None:
            add(("tags", key), f"cannot be an MLflow tag name: {why}", key=True)
        if len(value) > value_chars or not sagemaker_api.tag_value_ok(value):
            add(("tags", key), f"tag values are at most {value_chars} {allowed} (SageMaker's pattern)")
