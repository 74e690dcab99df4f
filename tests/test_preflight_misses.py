"""The first cloud attempt, again: each class of mistake that used to pass pre-flight is named before anything is
created (a run, an upload, a job), and the unusual-but-valid settings it used to refuse or lack are accepted,
in the loopback moto + MLflow world of the suite."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cloud import ACCOUNT, BUCKET, JOB_POLICY_NAME, REGION, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import MotoServer
from train.contract.paths import CHECKPOINT_FILE, CHECKPOINT_OWNER_FILE

NOTHING_MADE = "nothing may be created by a refused launch"


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def refused(cloud: CloudProject, *args: str, code: int = 3) -> str:
    """Launch for real; assert it is refused with `code` and that no run, upload or job exists. Its stderr."""
    result = cloud.run("--output", "json", *args)
    assert result.code == code, result.stderr[-3000:]
    assert cloud.runs() == [], NOTHING_MADE
    assert cloud.keys("configs/") == [] and cloud.moto.recorded("SageMaker.CreateTrainingJob") == [], NOTHING_MADE
    return result.stderr


def checks(cloud: CloudProject, *args: str) -> dict[str, dict[str, Any]]:
    result = cloud.run("--dry-run", "--output", "json", *args)
    assert result.code in (0, 3), result.stderr[-2000:]
    return {check["check"]: check for check in result.json()["preflight"]}


def test_a_deleted_experiment_is_named_with_how_to_restore_it(cloud: CloudProject) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=cloud.tracking_uri)
    experiment_id = client.create_experiment(cloud.experiment)
    client.delete_experiment(experiment_id)
    stderr = refused(cloud)
    assert f"experiment {cloud.experiment!r} was deleted" in stderr
    assert f"mlflow experiments restore --experiment-id {experiment_id}" in stderr
    client.restore_experiment(experiment_id)
    assert checks(cloud)["experiment"]["ok"]


def test_a_deleted_experiment_in_a_local_store_is_named_too(project: Project) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=project.tracking_uri)
    client.delete_experiment(client.create_experiment("digits-smoke"))  # configs/local.yaml's, deleted in the UI
    result = project.smlaunch("run", "configs/local.yaml", "--set", "train.epochs=1")
    assert result.code == 3 and "'digits-smoke' was deleted" in result.stderr, result.stderr[-2000:]
    assert project.runs() == [], NOTHING_MADE


def test_another_runs_checkpoint_in_the_prefix_is_named(cloud: CloudProject) -> None:
    s3 = cloud.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"checkpoints/{CHECKPOINT_FILE}", Body=b"weights")
    owner = json.dumps({"run_id": "0ld"}).encode()
    s3.put_object(Bucket=BUCKET, Key=f"checkpoints/{CHECKPOINT_OWNER_FILE}", Body=owner)
    stderr = refused(cloud)
    assert "already holds a checkpoint of run 0ld" in stderr and "own checkpoint_s3_uri" in stderr
    fresh = checks(cloud, "--set", f"sagemaker.checkpoint_s3_uri=s3://{BUCKET}/checkpoints-new")["checkpoints"]
    assert fresh["ok"] and "holds no checkpoint" in fresh["detail"]


def test_a_checkpoint_prefix_inside_a_channel_is_named(cloud: CloudProject) -> None:
    stderr = refused(cloud, "--set", f"sagemaker.checkpoint_s3_uri=s3://{BUCKET}/datasets/digits/ckpt")
    assert "is inside channel training's prefix" in stderr


def test_an_explicit_job_name_is_checked_for_pattern_and_uniqueness(cloud: CloudProject) -> None:
    bad = refused(cloud, "--set", "sagemaker.job_name=my_job", code=2)
    assert "sagemaker.job_name" in bad and "letters, digits and '-'" in bad
    spot_off = ["--set", "sagemaker.spot.enabled=false", "--set", "sagemaker.checkpoint_s3_uri=null"]
    first = cloud.run("--output", "json", "--set", "sagemaker.job_name=digits-baseline-1", *spot_off)
    assert first.code == 0, first.stderr[-3000:]
    (request,) = cloud.moto.recorded("SageMaker.CreateTrainingJob")
    assert request["TrainingJobName"] == "digits-baseline-1"
    again = cloud.run("--output", "json", "--set", "sagemaker.job_name=digits-baseline-1", *spot_off)
    assert again.code == 3 and "a training job named digits-baseline-1 exists already" in again.stderr
    assert len(cloud.runs()) == 1 and len(cloud.moto.recorded("SageMaker.CreateTrainingJob")) == 1


def test_kms_keys_reach_the_request_and_a_malformed_one_is_refused(cloud: CloudProject) -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = cloud.run("--dry-run", "--output", "json", "--set", f"sagemaker.output_kms_key={key}",
                       "--set", "sagemaker.volume_kms_key=alias/training")
    assert result.code == 0, result.stderr[-2000:]
    request = result.json()["request"]
    assert request["OutputDataConfig"]["KmsKeyId"] == key
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == "alias/training"
    bad = refused(cloud, "--set", "sagemaker.output_kms_key=my key!", code=2)
    assert "sagemaker.output_kms_key" in bad and "a KMS key ID, ARN, alias" in bad


def test_a_tag_value_outside_sagemakers_pattern_is_refused(cloud: CloudProject) -> None:
    stderr = refused(cloud, "--set", "tags.owner=ana#ml", code=2)
    assert "tags.owner" in stderr


def test_a_role_of_another_account_is_refused_before_anything(cloud: CloudProject) -> None:
    stderr = refused(cloud, "--set", "sagemaker.role_arn=arn:aws:iam::210987654321:role/SageMakerExecution")
    assert "belongs to account 210987654321, you are in 123456789012" in stderr


POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage",
                                   "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
     "Resource": "*"}]}


def test_without_simulation_the_roles_own_policies_decide(cloud: CloudProject) -> None:
    """moto has no SimulatePrincipalPolicy, which is what a caller without iam:Simulate* gets: the role's
    attached and inline policies are read instead."""
    iam = cloud.client("iam")
    assert checks(cloud)["role permissions"]["ok"]  # the suite's role is granted what a job needs
    iam.delete_role_policy(RoleName="SageMakerExecution", PolicyName=JOB_POLICY_NAME)
    iam.put_role_policy(RoleName="SageMakerExecution", PolicyName="job", PolicyDocument=json.dumps(POLICY))
    permissions = checks(cloud)["role permissions"]
    assert not permissions["ok"] and "logs:" in permissions["detail"], permissions  # no CloudWatch Logs
    assert "s3:GetObject" not in permissions["detail"]
    logs = iam.create_policy(PolicyName="logs", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="SageMakerExecution", PolicyArn=logs)
    assert checks(cloud)["role permissions"]["ok"]
    iam.put_role_policy(RoleName="SageMakerExecution", PolicyName="no-outputs", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:PutObject",
                                                 "Resource": f"arn:aws:s3:::{BUCKET}/outputs/*"}]}))
    denied = checks(cloud)["role permissions"]
    assert not denied["ok"] and "s3:PutObject" in denied["detail"] and "write outputs" in denied["detail"]


def test_a_condition_the_policies_cannot_decide_is_said_not_guessed(cloud: CloudProject) -> None:
    conditional = {"Version": "2012-10-17", "Statement": [
        *POLICY["Statement"], {"Effect": "Allow", "Action": "logs:*", "Resource": "*",
                               "Condition": {"StringEquals": {"aws:RequestedRegion": REGION}}}]}
    iam = cloud.client("iam")
    iam.delete_role_policy(RoleName="SageMakerExecution", PolicyName=JOB_POLICY_NAME)
    iam.put_role_policy(RoleName="SageMakerExecution", PolicyName="job", PolicyDocument=json.dumps(conditional))
    permissions = checks(cloud)["role permissions"]
    assert permissions["ok"] and permissions["warning"] and "logs:" in permissions["detail"]
    assert "could not" in permissions["detail"] or "undecided" in permissions["detail"]


def test_more_workers_than_gpus_is_refused_and_a_real_nccl_job_passes(cloud: CloudProject) -> None:
    torchrun = ["--set", "distribution.type=torchrun", "--set", "sagemaker.instance_count=1"]
    too_many = refused(cloud, *torchrun, "--set", "sagemaker.instance_type=ml.g5.xlarge",
                       "--set", "distribution.processes_per_host=4", code=2)
    assert "ml.g5.xlarge has 1 GPU" in too_many
    nccl = cloud.run("--dry-run", "--output", "json", *torchrun, "--set", "sagemaker.instance_type=ml.g6.12xlarge",
                     "--set", "distribution.backend=nccl", "--set", "distribution.processes_per_host=4")
    assert nccl.code == 0, nccl.stderr[-2000:]


def test_a_zero_volume_needs_local_storage(cloud: CloudProject) -> None:
    stderr = refused(cloud, "--set", "sagemaker.volume_size_gb=0", code=2)
    assert "ml.m5.xlarge has no instance storage" in stderr
    ok = cloud.run("--dry-run", "--set", "sagemaker.volume_size_gb=0", "--set", "sagemaker.instance_type=ml.g5.xlarge")
    assert ok.code == 0, ok.stderr[-2000:]


def test_pipe_mode_for_a_task_that_opens_files_is_refused(cloud: CloudProject) -> None:
    stderr = refused(cloud, "--set", "channels.training.input_mode=Pipe", code=2)
    assert "Pipe mode gives the task a stream" in stderr and "train.data.train_file" in stderr


def test_a_task_import_the_image_lacks_is_named(cloud: CloudProject) -> None:
    cloud.project.write("train/digits/extra.py", "import optuna  # the laptop has it (sweeps); the image does not\n")
    stderr = refused(cloud)
    assert "the task imports optuna (optuna), which the image does not install" in stderr
    assert "docker/requirements.txt" in stderr


def test_a_sweep_objective_the_task_does_not_declare_is_refused_before_anything(project: Project) -> None:
    project.write("configs/sweeps/typo.yaml", """\
config: ../local.yaml
strategy: grid
objective: {metric: val_acuracy, goal: maximize}
parameters:
  train.optimizer.lr: {values: [0.001, 0.01]}
""")
    result = project.smlaunch("sweep", "configs/sweeps/typo.yaml")
    assert result.code == 2 and "did you mean 'val_accuracy'?" in result.stderr, result.stderr[-2000:]
    assert "configs/sweeps/typo.yaml:3" in result.stderr
    assert project.runs() == []


def test_a_sweep_whose_first_trial_never_logs_the_objective_stops_failed(project: Project) -> None:
    project.write("train/quiet/__init__.py", "")
    project.write("train/quiet/task.py", "def run(ctx):\n    ctx.tracker.log_metrics({'loss': 1.0}, step=1)\n")
    project.write("configs/train/quiet.yaml", "task: train.quiet.task:run\n")
    project.write("configs/sweeps/quiet.yaml", """\
config: ../local.yaml
set: [training_config=train/quiet.yaml]
strategy: grid
max_parallel: 1
objective: {metric: val_accuracy}
parameters:
  train.seed: {values: [1, 2, 3]}
""")
    result = project.smlaunch("sweep", "configs/sweeps/quiet.yaml", "--output", "json")
    assert result.code == 1, result.stderr[-2000:]
    reason = result.json()["failure_reason"]
    assert "trial 1 finished without logging 'val_accuracy'" in reason and "it logged: loss" in reason
    runs = project.runs()
    (parent,) = [run for run in runs if run.data.tags.get("launcher.sweep") == "parent"]
    assert parent.info.status == "FAILED"
    assert len([run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]) == 1


def test_a_max_runtime_the_training_exceeds_fails_the_rehearsal_saying_so(cloud: CloudProject) -> None:
    result = cloud.project.smlaunch(
        "rehearse", "configs/cloud.yaml", "--output", "json", "--mode", "local-process",
        "--channel", f"training={cloud.project.root / 'data/digits'}", "--set", "sagemaker.max_runtime_seconds=1",
        "--set", "sagemaker.spot.enabled=false", "--set", "train.epochs=50", env=cloud.env)
    assert result.code == 1, result.stderr[-3000:]
    verdict = next(line for line in result.stderr.splitlines() if line.startswith("rehearsal:"))
    assert verdict.startswith("rehearsal: fix before submitting: the job FAILED: MaxRuntimeExceeded")
    assert "sagemaker.max_runtime_seconds" in verdict


def test_a_task_that_fails_to_import_says_why_first(project: Project) -> None:
    project.write("train/broken/__init__.py", "")
    project.write("train/broken/task.py", "import json\nSETTINGS = json.loads('{not json')\n\n"
                                          "def run(ctx):\n    pass\n")
    project.write("configs/train/broken.yaml", "task: train.broken.task:run\n")
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json",
                              "--set", "training_config=train/broken.yaml")
    assert result.code == 1, result.stderr[-3000:]
    assert result.json()["failure_reason"].startswith(
        "importing the task train.broken.task failed at train/broken/task.py:2: JSONDecodeError")
