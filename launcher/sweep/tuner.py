"""A bayesian sweep on SageMaker: SageMaker's own tuner (CreateHyperParameterTuningJob) chooses the trials.

The tuner only varies hyperparameters, so a bayesian SageMaker sweep varies training config keys (`train.*`);
the tuned keys are the tuning job's only hyperparameters (the trials read their whole config from the config
channel), named by their dotted path (`optimizer.lr`, `model.backbone.stage4.lr`); SageMaker hands each trial
its values in hyperparameters.json and the container applies the ones named in SMLAUNCH_TUNED. The objective
is a metric definition over the container's log lines (the tracker prints `[smlaunch-metric] name=value` when
SMLAUNCH_METRIC_LINES is set).
Each trial's container, seeing a parent run and no run of its own, creates its child run under the parent,
named after its TRAINING_JOB_NAME. The configs and code are staged once, for every trial.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws, check_request
from launcher.config import sagemaker_api
from launcher.config.spec import TRAIN_KEY
from launcher.job.code import pack
from launcher.job.request import build_request, config_location, make_job_name
from launcher.job.staging import stage_job
from launcher.preflight.checks import PreflightError, run_preflight
from launcher.sweep.parent import start_parent
from launcher.sweep.run import SweepOutcome
from launcher.sweep.space import Parameter
from launcher.sweep.spec import SweepSpec
from launcher.tracking import client
from train.contract.handover import METRIC_LINE_PREFIX, METRIC_LINES_ENV, PARENT_RUN_ID_ENV, RUN_ID_ENV, TUNED_ENV

TUNING_OPERATION = "CreateHyperParameterTuningJob"
PLACEHOLDER = {"run_id": "<parent-run-id>", "experiment_id": "<experiment-id>"}


def metric_regex(metric: str) -> str:
    """The metric definition's regex: the value on the line the tracker prints for `metric`."""
    return re.escape(f"{METRIC_LINE_PREFIX} {metric}=") + r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def hyperparameter_name(path: str) -> str:
    """`train.optimizer.lr` → `optimizer.lr`: the tuned key's path inside the training config."""
    return path.removeprefix(f"{TRAIN_KEY}.")


def tuning_request(sweep: SweepSpec, training: dict[str, Any], name: str) -> dict[str, Any]:
    """CreateHyperParameterTuningJob from the trials' CreateTrainingJob request (the parent's hand-over)."""
    tuned = [hyperparameter_name(p.path) for p in sweep.parameters]
    environment = {key: value for key, value in training["Environment"].items() if key != RUN_ID_ENV}
    environment.update({PARENT_RUN_ID_ENV: training["Environment"][RUN_ID_ENV], METRIC_LINES_ENV: "true",
                        TUNED_ENV: ",".join(tuned)})
    algorithm = {**training["AlgorithmSpecification"],
                 "MetricDefinitions": [{"Name": sweep.metric, "Regex": metric_regex(sweep.metric)}]}
    definition: dict[str, Any] = {
        "StaticHyperParameters": {},  # the trial reads its whole config from the config channel
        "AlgorithmSpecification": algorithm, "RoleArn": training.get("RoleArn", ""),
        "InputDataConfig": training["InputDataConfig"], "OutputDataConfig": training["OutputDataConfig"],
        "ResourceConfig": training["ResourceConfig"], "StoppingCondition": training["StoppingCondition"],
        "Environment": environment,
    }
    for key in ("VpcConfig", "CheckpointConfig", "EnableManagedSpotTraining"):
        if key in training:
            definition[key] = training[key]
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": sweep.goal.capitalize(), "MetricName": sweep.metric},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": sweep.max_trials,
                               "MaxParallelTrainingJobs": sweep.max_parallel},
            "ParameterRanges": parameter_ranges(sweep.parameters),
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": definition,
        "Tags": training["Tags"],
    }


def parameter_ranges(parameters: tuple[Parameter, ...]) -> dict[str, list[dict[str, Any]]]:
    from train.contract.params import param_value

    ranges: dict[str, list[dict[str, Any]]] = {"IntegerParameterRanges": [], "ContinuousParameterRanges": [],
                                               "CategoricalParameterRanges": []}
    for p in parameters:
        name = hyperparameter_name(p.path)
        if not p.is_range:
            ranges["CategoricalParameterRanges"].append({"Name": name, "Values": [param_value(v) for v in p.values]})
            continue
        scaling = "Logarithmic" if p.scale == "log" else "Linear"
        kind = "IntegerParameterRanges" if p.kind == "int" else "ContinuousParameterRanges"
        ranges[kind].append({"Name": name, "MinValue": param_value(p.cast(p.low)),
                             "MaxValue": param_value(p.cast(p.high)), "ScalingType": scaling})
    return ranges


def planned_request(sweep: SweepSpec) -> dict[str, Any]:
    """The dry-run's request: placeholders for what exists only once the parent run does."""
    from launcher.job.request import RunIds

    run = RunIds(PLACEHOLDER["run_id"], PLACEHOLDER["experiment_id"], sweep.base.tracking_uri)
    training = build_request(sweep.base, run, "<trial-job-name>", config_location(sweep.base, run.run_id, "<job>"))
    request = tuning_request(sweep, training, "<tuning-job-name>")
    check_request(request, operation=TUNING_OPERATION)
    return request


def start_tuning(sweep: SweepSpec, cwd: Path, command: str) -> SweepOutcome:
    """Pre-flight, the parent run, the configs and code staged once, CreateHyperParameterTuningJob."""
    spec = sweep.base
    aws = Aws(spec.job.region)
    report = run_preflight(spec, aws)
    if not report.ok:
        raise PreflightError(report)
    code = pack(spec.code_dirs, spec.code_max_bytes) if spec.code_dirs else None
    parent = start_parent(sweep, command)
    uploaded: list[str] = []
    try:
        now = datetime.now(UTC)
        name = make_job_name(spec.experiment, parent.run_id, now, sagemaker_api.limit("tuning_job_name_chars"))
        staged = stage_job(spec, parent.run_id, name, code)
        image = report.image.uri if report.image else None
        training = build_request(spec, parent, make_job_name(spec.experiment, parent.run_id, now),
                                 staged.config_uri, image, report.secret_refs or None, staged.code_uri)
        request = tuning_request(sweep, training, name)
        check_request(request, TUNING_OPERATION)
        uploaded = aws.upload(staged.uploads())
        arn = aws.create_tuning_job(request)
    except BaseException as error:
        aws.delete_objects(uploaded)
        client.end_run(parent, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED",
                       f"the tuning job was not started: {error}")
        raise
    try:
        client.set_tags(parent, {"launcher.tuning_job": name, "launcher.tuning_job_arn": arn,
                                 "launcher.config_uri": staged.config_uri})
    except Exception as error:
        print(f"warning: could not tag the sweep with its tuning job: {error}", file=sys.stderr)
    return SweepOutcome(parent, "RUNNING", tuning_job=name)
