"""Sweeps on SageMaker (moto): grid and random as concurrent training jobs the launcher follows; bayesian as
SageMaker's tuner, whose request is checked against botocore's model and whose trials are then played here
from that very request: each container, given a parent run and no run of its own, records under the parent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.cloud import BUCKET, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import MotoServer

SWEEP = """\
config: ../cloud.yaml
set: [sagemaker.instance_count=1, train.epochs=2]
strategy: {strategy}
max_trials: 2
max_parallel: 2
objective: {{metric: val_accuracy}}
parameters:
  train.optimizer.lr: {{min: 0.001, max: 0.01, scale: log}}
  train.model.hidden_sizes: {{values: [[32], [64, 32]]}}
"""


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def children_of(cloud: CloudProject, parent_run_id: str) -> list[Any]:
    return [run for run in cloud.runs() if run.data.tags.get("mlflow.parentRunId") == parent_run_id]


def test_a_random_sweep_on_sagemaker_starts_one_followed_job_per_trial(cloud: CloudProject) -> None:
    cloud.project.write("configs/sweeps/cloud.yaml", SWEEP.format(strategy="random"))
    result = cloud.project.smlaunch("sweep", "configs/sweeps/cloud.yaml", "--output", "json", env=cloud.env)
    # moto's jobs complete at once without running a container: no trial logs the objective, and a sweep that
    # cannot rank its trials stops after the first one that finished, its parent FAILED, saying so
    assert result.code == 1, result.stderr[-3000:]
    report = result.json()
    assert report["status"] == "FAILED"
    assert "finished without logging 'val_accuracy', the objective (it logged: no metric)" in \
        report["failure_reason"]
    children = children_of(cloud, report["parent_run_id"])
    assert sorted(run.data.tags["launcher.sweep.trial"] for run in children) == ["1", "2"]
    sagemaker = cloud.client("sagemaker")
    jobs = {job["TrainingJobName"] for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]}
    assert jobs == {run.data.tags["launcher.job_name"] for run in children}
    for child in children:  # each job carries its own trial's values (the console's hyperparameter mirror)
        job = sagemaker.describe_training_job(TrainingJobName=child.data.tags["launcher.job_name"])
        assert "HyperParameters" not in job  # the trial's values are in its config channel and its params
        assert child.info.status == "FINISHED"  # moto's jobs complete at once; the launcher followed each


def fetch_channel(cloud: CloudProject, uri: str, directory: Path) -> str:
    """An S3 prefix downloaded, as SageMaker does before the container starts; its file:// URI."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = cloud.client("s3")
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        target = directory / item["Key"][len(prefix):].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, item["Key"], str(target))
    return directory.as_uri()


def trial_request(cloud: CloudProject, definition: dict[str, Any], job_name: str, values: dict[str, str],
                  root: Path) -> dict[str, Any]:
    """What SageMaker's tuner makes of its TrainingJobDefinition for one trial: a training job with the
    static hyperparameters plus the trial's values, the definition's environment, its channels."""
    channels = []
    for channel in definition["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        local = fetch_channel(cloud, source["S3Uri"], root / "channels" / channel["ChannelName"])
        channels.append({**channel, "DataSource": {"S3DataSource": {**source, "S3Uri": local}}})
    algorithm = {k: v for k, v in definition["AlgorithmSpecification"].items() if k != "MetricDefinitions"}
    return {"TrainingJobName": job_name, "AlgorithmSpecification": algorithm,
            "HyperParameters": {**definition["StaticHyperParameters"], **values}, "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": (root / "output").as_uri()},
            "ResourceConfig": definition["ResourceConfig"], "StoppingCondition": definition["StoppingCondition"],
            "Environment": definition["Environment"], "RoleArn": definition["RoleArn"]}


def test_the_tuner_request_is_valid_and_its_trials_record_under_the_parent(
        cloud: CloudProject, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from botocore.validate import ParamValidator

    from launcher.executors import execute

    cloud.project.write("configs/sweeps/tuner.yaml", SWEEP.format(strategy="bayesian"))
    planned = cloud.project.smlaunch("sweep", "configs/sweeps/tuner.yaml", "--dry-run", "--output", "json",
                                     env=cloud.env)
    assert planned.code == 0, planned.stderr
    model = cloud.client("sagemaker").meta.service_model
    shape = model.operation_model("CreateHyperParameterTuningJob").input_shape
    assert not ParamValidator().validate(planned.json()["request"], shape).has_errors()

    started = cloud.project.smlaunch("sweep", "configs/sweeps/tuner.yaml", "--output", "json", env=cloud.env)
    assert started.code == 0, started.stderr[-3000:]
    report = started.json()
    assert report["status"] == "RUNNING" and 0 < len(report["tuning_job"]) <= 32
    tuning = cloud.client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=report["tuning_job"])
    config = tuning["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "optimizer.lr", "MinValue": "0.001", "MaxValue": "0.01", "ScalingType": "Logarithmic"}]
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "model.hidden_sizes", "Values": ["[32]", "[64, 32]"]}]
    definition = tuning["TrainingJobDefinition"]
    assert "MLFLOW_RUN_ID" not in definition["Environment"]
    assert definition["Environment"]["SMLAUNCH_PARENT_RUN_ID"] == report["parent_run_id"]
    assert "optimizer.lr" not in definition["StaticHyperParameters"]
    assert cloud.keys(prefix="configs/")  # staged once, for every trial
    regex = definition["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"]

    trials = {f"{report['tuning_job']}-001-0a1b2c3d": {"optimizer.lr": "0.0013", "model.hidden_sizes": "[32]"},
              f"{report['tuning_job']}-002-4e5f6a7b": {"optimizer.lr": "0.0087", "model.hidden_sizes": "[64, 32]"}}
    for job_name, values in trials.items():
        request = trial_request(cloud, definition, job_name, values, tmp_path / job_name)
        outcome = execute("local-process", request, tmp_path / "jobs")
        assert outcome.status == "Completed", outcome.failure_reason
    printed = capfd.readouterr().err
    children = {run.info.run_name: run for run in children_of(cloud, report["parent_run_id"])}
    assert set(children) == set(trials)
    for job_name, values in trials.items():
        child = children[job_name]
        assert child.info.status == "FINISHED"
        assert child.data.params["train.optimizer.lr"] == values["optimizer.lr"]
        assert child.data.params["train.model.hidden_sizes"] == values["model.hidden_sizes"]
        assert child.data.params["train.epochs"] == "2" and child.data.params["mode"] == "sagemaker"
        assert child.data.tags["launcher.job_name"] == job_name
    seen = [float(value) for value in re.findall(regex, printed)]  # what SageMaker's metric definition reads
    assert len(seen) == 4
    assert sorted(seen[1::2]) == pytest.approx(sorted(c.data.metrics["val_accuracy"] for c in children.values()))
    assert f"s3://{BUCKET}/" in definition["OutputDataConfig"]["S3OutputPath"]


def test_the_trials_billable_seconds_are_summed_on_the_parent(project: Project) -> None:
    """moto reports no billable time, so SageMaker's answers come from botocore's Stubber (which checks each
    request against the service model); the runs are real, in a sqlite store."""
    from botocore.stub import Stubber
    from mlflow import MlflowClient

    from launcher.cloud.aws import Aws
    from launcher.sweep.run import billable_seconds
    from launcher.sweep.space import Trial
    from launcher.sweep.spec import load_sweep
    from launcher.sweep.trials import TrialResult
    from launcher.tracking.client import TrackedRun

    project.write("configs/sweeps/cost.yaml", "config: ../sagemaker.yaml\nobjective: {metric: val_accuracy}\n"
                  "parameters:\n  train.optimizer.lr: {values: [0.001, 0.01]}\n")
    sweep = load_sweep(project.root / "configs/sweeps/cost.yaml", ["tracking.uri=https://mlflow.example.com"],
                       cwd=project.root)
    store = MlflowClient(project.tracking_uri)
    experiment = store.create_experiment("cost")
    parent = TrackedRun(store.create_run(experiment).info.run_id, experiment, project.tracking_uri)
    results = [TrialResult(trial, "FINISHED", store.create_run(experiment).info.run_id, 0.9, job_name=f"job-{n}")
               for n, trial in enumerate((Trial(1, {}), Trial(2, {})), start=1)]
    aws = Aws("eu-west-1")
    sagemaker = aws.client("sagemaker")
    with Stubber(sagemaker) as stub:
        for n, billable in ((1, 120), (2, 95)):
            arn = f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/job-{n}"
            stub.add_response("describe_training_job", expected_params={"TrainingJobName": f"job-{n}"},
                              service_response={"TrainingJobName": f"job-{n}", "TrainingJobArn": arn,
                "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m.tar.gz"}, "TrainingJobStatus": "Completed",
                "SecondaryStatus": "Completed", "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600}, "CreationTime": 0,
                "BillableTimeInSeconds": billable, "TrainingTimeInSeconds": billable})
        assert billable_seconds(parent, sweep, results, aws) == 215
        stub.assert_no_pending_responses()
    assert [store.get_run(r.run_id).data.tags["launcher.billable_seconds"] for r in results] == ["120", "95"]
