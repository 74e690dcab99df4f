"""Cloud runs never lie either: an ambiguous CreateTrainingJob, a refused upload, and jobs that end while no
launcher watches — settled by `smlaunch status` — against real moto and MLflow servers, with a fault proxy
in front of moto where a fault must be injected (or an outcome moto cannot produce must be played)."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.cloud import BUCKET, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.faults import FORWARD, LOSE_ANSWER, Action, FaultProxy, Request, rewrite, status
from tests.services import MotoServer


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def target(request: Request) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == "x-amz-target"), "")


def test_a_lost_createtrainingjob_answer_is_resolved_before_anything_is_undone(cloud: CloudProject) -> None:
    seen: list[int] = []

    def lose_first_create(request: Request) -> Action:
        if target(request) == "SageMaker.CreateTrainingJob" and not seen:
            seen.append(request.number)
            return LOSE_ANSWER  # SageMaker created the job; the answer never arrives
        return FORWARD

    with FaultProxy(cloud.moto.endpoint, lose_first_create) as proxy:
        result = cloud.run("--output", "json", env={"AWS_ENDPOINT_URL_SAGEMAKER": proxy.url})
    assert result.code == 0, result.stderr[-2000:]
    report = result.json()
    assert len(cloud.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 1
    (run,) = cloud.runs()
    assert run.info.status == "RUNNING"  # the job is alive: the run was not called failed
    staged = f"configs/{cloud.experiment}/{report['run_id']}/"
    kept = {key.removeprefix(staged) for key in cloud.keys(staged)}
    assert kept == {"code/source.tar.gz", "config/job/cloud.yaml", "config/resolved.yaml",  # nothing was undone
                    "config/train/digits.yaml", "config/training.yaml"}


def test_a_refused_upload_leaves_nothing_on_s3_and_fails_the_run(cloud: CloudProject) -> None:
    puts: list[int] = []

    def deny_third_put(request: Request) -> Action:
        if request.method == "PUT" and "/configs/" in request.path:
            puts.append(request.number)
            if len(puts) == 3:
                return status(403, b"<Error><Code>AccessDenied</Code><Message>denied</Message></Error>")
        return FORWARD

    with FaultProxy(cloud.moto.endpoint, deny_third_put) as proxy:
        result = cloud.run("--output", "json", env={"AWS_ENDPOINT_URL_S3": proxy.url})
    assert result.code == 1
    assert "AccessDenied" in result.stderr and "nothing was left on S3" in result.stderr
    assert cloud.keys("configs/") == []
    (run,) = cloud.runs()
    assert run.info.status == "FAILED"
    assert cloud.moto.recorded("SageMaker.CreateTrainingJob") == []


def test_status_settles_a_completed_job_without_a_watcher(cloud: CloudProject) -> None:
    report = cloud.run("--output", "json").json()
    (run,) = cloud.runs()
    assert run.info.status == "RUNNING"
    env = {**cloud.env, "MLFLOW_TRACKING_URI": cloud.tracking_uri}
    shown = cloud.project.smlaunch("status", report["run_id"], "--output", "json", env=env)
    assert shown.code == 0, shown.stderr
    assert shown.json()["run_status"] == "FINISHED"
    (run,) = cloud.runs()
    assert run.info.status == "FINISHED"
    assert run.data.tags["launcher.instance_type"] == "ml.m5.xlarge"
    assert run.data.tags["launcher.instance_count"] == "2"


def test_status_settles_a_failed_spot_job_with_its_reason_cost_and_undelivered_metrics(cloud: CloudProject) -> None:
    report = cloud.run("--output", "json").json()
    journal = "".join(json.dumps(["val_loss", 0.5 - step / 100, 1_700_000_000_000 + step, step]) + "\n"
                      for step in range(1, 4))
    cloud.client("s3").put_object(Bucket=BUCKET, Key=f"outputs/{report['job_name']}/output/output.tar.gz",
                                  Body=output_tar({"smlaunch/metrics.jsonl": journal,
                                                   "smlaunch/pending.json": '{"metrics": 3}'}))

    def failed(body: bytes) -> bytes:  # moto completes every job at once; play SageMaker's answer for a failure
        job = json.loads(body)
        job.update({"TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: CUDA out of memory",
                    "BillableTimeInSeconds": 120, "TrainingTimeInSeconds": 400, "EnableManagedSpotTraining": True})
        return json.dumps(job).encode()

    with FaultProxy(cloud.moto.endpoint, lambda r: rewrite(failed) if target(r).endswith("DescribeTrainingJob")
                    else FORWARD) as proxy:
        env = {**cloud.env, "MLFLOW_TRACKING_URI": cloud.tracking_uri, "AWS_ENDPOINT_URL_SAGEMAKER": proxy.url}
        shown = cloud.project.smlaunch("status", report["run_id"], "--output", "json", env=env)
    assert shown.code == 0, shown.stderr
    assert shown.json()["run_status"] == "FAILED" and shown.json()["billable_seconds"] == 120
    from mlflow import MlflowClient

    run = MlflowClient(tracking_uri=cloud.tracking_uri).get_run(report["run_id"])
    assert run.info.status == "FAILED"
    assert run.data.tags["launcher.failure_reason"] == "AlgorithmError: CUDA out of memory (last step logged: 3)"
    assert run.data.tags["launcher.billable_seconds"] == "120"
    assert run.data.tags["launcher.spot_savings_percent"] == "70.0"
    history = MlflowClient(tracking_uri=cloud.tracking_uri).get_metric_history(report["run_id"], "val_loss")
    assert [point.step for point in history] == [1, 2, 3]  # replayed from the job's output.tar.gz


def output_tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_status_reports_an_output_s3_refuses_and_keeps_the_points_pending(cloud: CloudProject) -> None:
    """An S3 answer that is not "no such key" (AccessDenied here) is not taken for "no output": status says so
    and leaves the run as it was; once S3 answers, the same status replays every point and settles the run."""
    from mlflow import MlflowClient

    report = cloud.run("--output", "json").json()
    journal = "".join(json.dumps(["val_loss", 1.0 / step, 1_700_000_000_000 + step, step]) + "\n"
                      for step in range(1, 6))
    key = f"outputs/{report['job_name']}/output/output.tar.gz"
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=output_tar({
        "smlaunch/metrics.jsonl": journal, "smlaunch/pending.json": '{"metrics": 5}',
        "smlaunch/ended.json": '{"task": "returned"}'}))
    env = {**cloud.env, "MLFLOW_TRACKING_URI": cloud.tracking_uri}

    def deny_output(request: Request) -> Action:
        if request.method == "GET" and key in request.path:
            return status(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
        return FORWARD

    with FaultProxy(cloud.moto.endpoint, deny_output) as proxy:
        shown = cloud.project.smlaunch("status", report["run_id"], env={**env, "AWS_ENDPOINT_URL_S3": proxy.url})
    assert shown.code == 1 and "AccessDenied" in shown.stderr and "Traceback" not in shown.stderr
    client = MlflowClient(tracking_uri=cloud.tracking_uri)
    assert client.get_run(report["run_id"]).info.status == "RUNNING"  # not settled as "no output"
    assert client.get_metric_history(report["run_id"], "val_loss") == []

    shown = cloud.project.smlaunch("status", report["run_id"], "--output", "json", env=env)
    assert shown.code == 0, shown.stderr
    assert shown.json()["run_status"] == "FINISHED"
    assert [m.step for m in client.get_metric_history(report["run_id"], "val_loss")] == [1, 2, 3, 4, 5]
