"""`smlaunch rehearse` runs the cloud example config, configs/sagemaker.yaml, on this machine as it is: against
moto's S3/ECR/IAM, its data downloaded through the cache, the job's environment only, recorded in a local
store (never the team's server), and in the image when it can be, where a package the image lacks fails."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.cloud import ACCOUNT, BUCKET, IMAGE, REGION, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import MotoServer

ENV_TASK = '''
import json
import os


def run(ctx):
    {imports}
    (ctx.paths.output_data_dir / "env.json").write_text(json.dumps(sorted(os.environ)))
    ctx.tracker.log_metrics({{"ok": 1.0}}, step=1)
'''


def filled_in(cloud: CloudProject) -> list[str]:
    """configs/sagemaker.yaml's REPLACE values, set to this test's moto world."""
    return ["--set", f"sagemaker.region={REGION}", "--set", f"sagemaker.image={IMAGE}",
            "--set", f"sagemaker.role_arn=arn:aws:iam::{ACCOUNT}:role/SageMakerExecution",
            "--set", f"sagemaker.output_path=s3://{BUCKET}/outputs", "--set", f"sagemaker.config_prefix=s3://{BUCKET}/c",
            "--set", f"sagemaker.checkpoint_s3_uri=s3://{BUCKET}/checkpoints",
            "--set", f"channels.training.uri=s3://{BUCKET}/datasets/digits/",
            "--set", f"tracking.uri={cloud.tracking_uri}", "--set", "tracking.assume_reachable=true"]


def env_task(project: Project, imports: str = "pass") -> list[str]:
    """A task (shipped as code) that writes the names of its environment variables to its output."""
    project.write("train/envcheck/__init__.py", "")
    project.write("train/envcheck/task.py", ENV_TASK.format(imports=imports))
    project.write("configs/train/envcheck.yaml", "task: train.envcheck.task:run\n")
    return ["--set", "training_config=train/envcheck.yaml"]


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def rehearse(cloud: CloudProject, *args: str, docker_host: str | None = None) -> tuple[int, dict, str]:
    env = {**cloud.env, "XDG_CACHE_HOME": str(cloud.project.root / "cache"), "LAPTOP_ONLY_SETTING": "x",
           "MLFLOW_TRACKING_PASSWORD": "laptop-password", "DOCKER_HOST": docker_host}
    result = cloud.project.smlaunch("rehearse", "configs/sagemaker.yaml", "--output", "json", *filled_in(cloud),
                                    *args, env=env, timeout=600)
    return result.code, (result.json() if result.stdout.strip() else {}), result.stderr


def test_a_rehearsal_downloads_the_data_runs_with_the_jobs_environment_and_records_locally(
        cloud: CloudProject) -> None:
    code, report, stderr = rehearse(cloud, "--mode", "local-process", *env_task(cloud.project))
    assert code == 0, stderr[-3000:]
    assert report["safe_to_submit"] and "rehearsal: safe to submit: smlaunch run configs/sagemaker.yaml" in stderr
    assert "channel training: 2 objects (2 downloaded" in stderr
    assert (cloud.project.root / "cache/smlaunch/s3" / BUCKET / "datasets/digits/train.npz").is_file()
    assert cloud.runs() == []  # nothing on the team's server
    job = cloud.project.root / ".smlaunch/jobs" / report["run"]["job_name"]
    names = json.loads((job / "algo-1/output/data/env.json").read_text())
    assert "LAPTOP_ONLY_SETTING" not in names and "MLFLOW_TRACKING_PASSWORD" not in names  # the job's env only
    assert {"TRAINING_JOB_NAME", "TRAINING_JOB_ARN", "MLFLOW_RUN_ID", "SMLAUNCH_RESUMABLE"} <= set(names)
    assert "SM_CHANNEL_TRAINING" in names  # derived in the container, as on SageMaker
    from mlflow import MlflowClient

    local = MlflowClient(tracking_uri=f"sqlite:///{cloud.project.root}/.smlaunch/rehearsal.db")
    run = local.get_run(report["run"]["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["launcher.rehearsal"] == "true"
    outputs = [path for path in cloud.project.root.rglob("*") if path.name.startswith("s3:")]
    assert outputs == []  # no folder named `s3:` anywhere
    assert (cloud.project.root / ".smlaunch/rehearsals/outputs" / report["run"]["job_name"]).is_dir()
    again_code, _, again = rehearse(cloud, "--mode", "local-process", "--sample", "1", *env_task(cloud.project))
    assert again_code == 0 and "channel training: 1 objects (0 downloaded" in again  # cached by ETag


def test_a_failed_preflight_says_what_to_fix(cloud: CloudProject) -> None:
    code, report, stderr = rehearse(cloud, "--mode", "local-process", "--set",
                                    f"sagemaker.role_arn=arn:aws:iam::{ACCOUNT}:role/Missing", *env_task(cloud.project))
    assert code == 3, stderr[-2000:]
    assert not report["safe_to_submit"]
    assert "rehearsal: fix before submitting: FAIL role: role arn:aws:iam::123456789012:role/Missing not found" \
        in stderr


def test_a_package_the_image_lacks_is_named_before_anything_runs(cloud: CloudProject) -> None:
    env_args = env_task(cloud.project, imports="import optuna  # on the laptop (sweeps), not in the image")
    code, report, stderr = rehearse(cloud, "--mode", "local-process", *env_args)
    assert code == 3, stderr[-2000:]
    assert not report["safe_to_submit"]
    assert "rehearsal: fix before submitting: FAIL task imports: the task imports optuna (optuna), which the " \
           "image does not install" in stderr


def test_an_import_only_the_image_can_judge_is_caught_in_the_image(cloud: CloudProject, training_image: str,
                                                                   docker_env: dict[str, str]) -> None:
    subprocess.run(["docker", "tag", training_image, IMAGE], env=docker_env, check=True)  # as pulled from ECR
    dynamic = "import importlib; importlib.import_module('opt' + 'una')  # no static import to read"
    env_args = env_task(cloud.project, imports=dynamic)
    laptop_code, _, _ = rehearse(cloud, "--mode", "local-process", *env_args)
    assert laptop_code == 0  # the laptop has optuna: a local process would have said "safe"
    code, report, stderr = rehearse(cloud, *env_args, docker_host=docker_env.get("DOCKER_HOST"))
    assert report["mode"] == "local-container", stderr[-2000:]
    assert code == 1
    assert "rehearsal: fix before submitting: the job FAILED: ModuleNotFoundError: No module named " \
           "'optuna'" in stderr


def test_pipe_channels_stream_their_files_through_a_fifo(project: Project) -> None:
    project.write("train/piped/__init__.py", "")
    project.write("train/piped/task.py", (
        "def run(ctx):\n"
        "    fifo = ctx.paths.data_dir / 'training_0'\n"
        "    data = fifo.read_bytes()\n"
        "    ctx.tracker.log_metrics({'bytes': float(len(data))}, step=1)\n"))
    project.write("configs/train/piped.yaml", "task: train.piped.task:run\n")
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set",
                              "training_config=train/piped.yaml", "--set", "channels.training.input_mode=Pipe")
    assert result.code == 0, result.stderr[-2000:]
    (run,) = project.runs()
    sizes = sum(path.stat().st_size for path in (project.root / "data/digits").iterdir())
    assert run.data.metrics == {"bytes": float(sizes)}


NO_AWS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None,
          "AWS_ENDPOINT_URL": None, "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
          "AWS_EC2_METADATA_DISABLED": "true"}


def test_a_rehearsal_with_a_local_stand_in_for_every_channel_needs_no_aws(project: Project) -> None:
    """configs/sagemaker.yaml as a newcomer has it (its REPLACE values filled in with names of nothing that
    exists), no AWS credentials at all: the job runs here on the stand-in, and the verdict says what is left."""
    filled = ["--set", "sagemaker.region=eu-west-1",
              "--set", f"sagemaker.image={ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/smlaunch-train:v1",
              "--set", f"sagemaker.role_arn=arn:aws:iam::{ACCOUNT}:role/SageMakerExecution",
              "--set", "sagemaker.output_path=s3://nobody-bucket/outputs",
              "--set", "sagemaker.config_prefix=s3://nobody-bucket/configs",
              "--set", "sagemaker.checkpoint_s3_uri=s3://nobody-bucket/checkpoints",
              "--set", "channels.training.uri=s3://nobody-bucket/datasets/digits/",
              "--set", "tracking.uri=https://mlflow.example.com", "--set", "tracking.assume_reachable=true"]
    result = project.smlaunch("rehearse", "configs/sagemaker.yaml", "--output", "json", "--mode", "local-process",
                              "--channel", "training=data/digits", "--set", "train.epochs=2", *filled, env=NO_AWS)
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    assert report["run"]["status"] == "FINISHED" and report["aws_checked"] is False
    assert report["safe_to_submit"] is False  # nothing was asked of AWS: not yet
    assert "pre-flight: AWS not asked" in result.stderr
    assert "rehearsal: the job runs; before submitting, check the AWS side: smlaunch run configs/sagemaker.yaml " \
           "--dry-run" in result.stderr
    missing = project.smlaunch("rehearse", "configs/sagemaker.yaml", "--channel", "training=data/nowhere",
                               *filled, env=NO_AWS)
    assert missing.code == 2 and "--channel training=data/nowhere" in missing.stderr
