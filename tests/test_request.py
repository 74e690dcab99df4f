"""The CreateTrainingJob request: pure, valid against botocore's own service model, and the job name rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.validate import ParamValidator

from launcher.config.loader import load_launch_spec
from launcher.job.request import RunIds, build_request, make_job_name
from tests.conftest import Project

RUN = RunIds("0123456789abcdef0123456789abcdef", "7", "http://127.0.0.1:5000")
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # from the SageMaker API reference


def validate_against_service_model(request: dict) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model("CreateTrainingJob").input_shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("experiment", ["digits-smoke", "My Experiment/v2", "x" * 200, "---", "a.b_c"])
def test_job_names_are_valid_unique_and_short(experiment: str) -> None:
    now = datetime(2026, 11, 28, 5, 6, 7, tzinfo=UTC)
    name = make_job_name(experiment, RUN.run_id, now)
    assert len(name) <= 63
    assert JOB_NAME_PATTERN.match(name), name
    assert name.endswith("-01234567-20261128-050607")
    assert name != make_job_name(experiment, "fedcba98" + RUN.run_id[8:], now)
    tuning = make_job_name(experiment, RUN.run_id, now, limit=32)  # a tuning job's name: 32 at most
    assert len(tuning) <= 32 and JOB_NAME_PATTERN.match(tuning) and tuning.endswith("-01234567-20261128-050607")


def test_request_is_valid_for_sagemaker_and_hands_over_the_run(project: Project) -> None:
    spec = load_launch_spec(project.config, [
        "sagemaker.role_arn=arn:aws:iam::123456789012:role/SageMakerExecution",
        "sagemaker.image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/smlaunch-train:abc",
        "environment.EXTRA=1", "environment.MLFLOW_RUN_ID=user-cannot-override-this",
    ])
    request = build_request(spec, RUN, "job-1", config_uri=str(project.root / "staged"))
    validate_against_service_model(request)
    assert request["Environment"]["MLFLOW_RUN_ID"] == RUN.run_id
    assert request["Environment"]["MLFLOW_TRACKING_URI"] == RUN.tracking_uri
    assert request["Environment"]["EXTRA"] == "1"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
    assert channels == {"config": (project.root / "staged").as_uri(),
                        "training": (project.root / "data" / "digits").as_uri()}
    assert "HyperParameters" not in request  # the training config travels whole in the config channel
    assert {"Key": "mlflow.run_id", "Value": RUN.run_id} in request["Tags"]
    assert build_request(spec, RUN, "job-1", config_uri=str(project.root / "staged")) == request  # pure


def test_managed_mlflow_arn_goes_into_the_job_without_credentials(project: Project, monkeypatch) -> None:
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "laptop-secret")
    spec = load_launch_spec(project.config, [f"tracking.uri={arn}"])
    run = RunIds(RUN.run_id, "3", arn)
    request = build_request(spec, run, "job-1", config_uri=str(project.root))
    assert set(request["Environment"]) == {"MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"}
    assert request["Environment"]["MLFLOW_TRACKING_URI"] == arn
    assert "laptop-secret" not in str(request)


def test_credentials_in_the_job_environment_are_refused_with_a_managed_arn(project: Project) -> None:
    from launcher.core.errors import ConfigError

    arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team"
    with pytest.raises(ConfigError, match="authenticates with the job's role"):
        load_launch_spec(project.config, [f"tracking.uri={arn}", "environment.MLFLOW_TRACKING_TOKEN=t"])
