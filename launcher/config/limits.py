"""SageMaker's and MLflow's size limits, checked on the resolved spec before anything is created.

The numbers come from botocore's service model for CreateTrainingJob and from MLflow's server-side limits;
breaking one would otherwise fail only after the run exists (MLflow) or after the request is sent (SageMaker).
"""

from __future__ import annotations

from collections.abc import Callable

from launcher.config.spec import TRAIN_KEY, LaunchSpec
from launcher.config.yaml_source import ConfigPath, Location, problem
from launcher.errors import ConfigProblem
from train.handover import handover_variables
from train.params import MLFLOW_PARAM_KEY_LIMIT, MLFLOW_PARAM_VALUE_LIMIT, flatten_paths

HYPERPARAMETERS_LIMIT = 100
HYPERPARAMETER_VALUE_LIMIT = 2500
ENVIRONMENT_VALUE_LIMIT = 512
ENVIRONMENT_LIMIT = 100


def check_limits(spec: LaunchSpec, locate: Callable[[ConfigPath], Location]) -> list[ConfigProblem]:
    """Every limit `spec` breaks, located via `locate(path)`."""
    found: list[ConfigProblem] = []
    hyperparameters = flatten_paths(spec.training)
    if len(hyperparameters) > HYPERPARAMETERS_LIMIT:
        found.append(problem(locate((TRAIN_KEY,)), (TRAIN_KEY,),
                             f"{len(hyperparameters)} training parameters; SageMaker takes at most "
                             f"{HYPERPARAMETERS_LIMIT} hyperparameters (group some into one list or file)"))
    for path, value in hyperparameters.items():
        if len(value) > HYPERPARAMETER_VALUE_LIMIT:
            full = (TRAIN_KEY, *path)
            found.append(problem(locate(full), full, f"value is {len(value)} characters; SageMaker hyperparameter "
                                                     f"values are limited to {HYPERPARAMETER_VALUE_LIMIT}"))
    if len(spec.tracking_uri) > ENVIRONMENT_VALUE_LIMIT:
        found.append(problem(locate(("tracking", "uri")), ("tracking", "uri"),
                             f"longer than {ENVIRONMENT_VALUE_LIMIT} characters (SageMaker's Environment limit)"))
    handover = len(handover_variables(bool(spec.register_as), spec.job.spot, tuple(spec.secrets),
                                      spec.distribution.torchrun))
    if len(spec.environment) + handover > ENVIRONMENT_LIMIT:
        found.append(problem(locate(("environment",)), ("environment",),
                             f"{len(spec.environment)} variables plus smlaunch's {handover}; SageMaker takes at most "
                             f"{ENVIRONMENT_LIMIT} Environment entries"))
    for path, value in flatten_paths(spec.resolved).items():
        key = ".".join(path)
        if len(key) > MLFLOW_PARAM_KEY_LIMIT:
            found.append(problem(locate(path), path, f"param name is {len(key)} characters; MLflow allows "
                                                     f"{MLFLOW_PARAM_KEY_LIMIT}"))
        if len(value) > MLFLOW_PARAM_VALUE_LIMIT:
            found.append(problem(locate(path), path, f"value is {len(value)} characters; MLflow params are "
                                                     f"limited to {MLFLOW_PARAM_VALUE_LIMIT}"))
    return found
