"""SageMaker mode against a real moto server (S3, ECR, STS, SageMaker) and a real MLflow server, over HTTP."""

from __future__ import annotations

import json
import time

import pytest

from tests.cloud import ACCOUNT, BUCKET, IMAGE, REGION, REPOSITORY, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import MotoServer

NOISE = "Encountered unexpected error during resolving request headers"


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def test_launch_sends_one_exact_request_and_links_run_and_job(cloud: CloudProject) -> None:
    from mlflow import MlflowClient

    result = cloud.run("--output", "json")
    assert result.code == 0, result.stderr
    assert NOISE not in result.stderr
    report = result.json()
    run_id = report["run_id"]
    (sent,) = cloud.moto.recorded("SageMaker.CreateTrainingJob")

    assert sent["TrainingJobName"] == report["job_name"]
    assert sent["Environment"]["MLFLOW_RUN_ID"] == run_id
    assert sent["Environment"]["MLFLOW_TRACKING_URI"] == cloud.tracking_uri
    assert sent["AlgorithmSpecification"]["TrainingImage"] == f"{IMAGE.rsplit(':', 1)[0]}@{cloud.digest}"
    channels = {c["ChannelName"]: c for c in sent["InputDataConfig"]}
    config_uri = f"s3://{BUCKET}/configs/{cloud.experiment}/{run_id}/config/"
    assert channels["config"]["DataSource"]["S3DataSource"]["S3Uri"] == config_uri
    assert channels["training"]["InputMode"] == "FastFile"
    assert sent["EnableManagedSpotTraining"] is True
    assert sent["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert sent["CheckpointConfig"] == {"S3Uri": f"s3://{BUCKET}/checkpoints", "LocalPath": "/opt/ml/checkpoints"}
    assert sent["ResourceConfig"]["InstanceCount"] == 2

    run = MlflowClient(tracking_uri=cloud.tracking_uri).get_run(run_id)
    job_params = {key: value for key, value in run.data.params.items() if not key.startswith("train.")}
    assert job_params == {  # tests/cloud.py's config, written out, with the schema's defaults
        "experiment": cloud.experiment, "mode": "sagemaker", "training_config": "train/digits.yaml",
        "tracking.uri": cloud.tracking_uri, "tracking.assume_reachable": "true", "sagemaker.region": REGION,
        "sagemaker.image": IMAGE,
        "sagemaker.role_arn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution",
        "sagemaker.instance_type": "ml.m5.xlarge", "sagemaker.instance_count": "2",
        "sagemaker.output_path": f"s3://{BUCKET}/outputs", "sagemaker.config_prefix": f"s3://{BUCKET}/configs",
        "sagemaker.checkpoint_s3_uri": f"s3://{BUCKET}/checkpoints", "sagemaker.spot.enabled": "true",
        "sagemaker.spot.max_wait_seconds": "7200", "sagemaker.max_runtime_seconds": "3600",
        "sagemaker.volume_size_gb": "30", "sagemaker.remote_debug": "false",
        "channels.training.uri": f"s3://{BUCKET}/datasets/digits/", "channels.training.input_mode": "FastFile",
        "channels.training.distribution": "FullyReplicated", "distribution.type": "none",
        "distribution.processes_per_host": "auto", "distribution.backend": "auto",
        "tags.team": "ml-platform", "local.work_dir": ".smlaunch/jobs",
        "code.dirs": '["../train"]', "code.max_mb": "20",  # as written; where it pointed: launcher.location.*
        "not_secrets": "[]",
        "local.keep_jobs": "10",
    }
    assert run.data.params["train.optimizer.lr"] == "0.003"
    assert run.info.user_id == run.data.tags["mlflow.user"] != ""
    tags = run.data.tags
    assert tags["launcher.job_name"] == report["job_name"]
    assert tags["launcher.job_arn"] == report["job_arn"].replace("\u200b", "")
    assert tags["launcher.region"] == REGION
    assert tags["launcher.console_url"].startswith(f"https://{REGION}.console.aws.amazon.com/sagemaker/")
    assert report["job_name"] in tags["launcher.logs_url"]
    assert tags["launcher.config_uri"] == config_uri
    assert tags["launcher.image_digest"] == cloud.digest
    assert run.info.status == "RUNNING"  # the container ends it; the launcher returned after submitting

    artifacts = {a.path for a in MlflowClient(tracking_uri=cloud.tracking_uri).list_artifacts(run_id, "config")}
    assert {"config/resolved.yaml", "config/training.yaml"} <= artifacts
    assert cloud.keys(f"configs/{cloud.experiment}/{run_id}/") == [
        f"configs/{cloud.experiment}/{run_id}/{name}"
        for name in ("code/source.tar.gz", "config/job/cloud.yaml", "config/resolved.yaml",
                     "config/train/digits.yaml", "config/training.yaml")
    ]
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"] == config_uri.replace("/config/", "/code/")
    assert tags["launcher.code_sha256"]
    job_tags = cloud.client("sagemaker").list_tags(ResourceArn=report["job_arn"])["Tags"]
    assert {"Key": "mlflow.run_id", "Value": run_id} in job_tags
    assert {"Key": "mlflow.experiment_id", "Value": run.info.experiment_id} in job_tags
    assert {"Key": "mlflow.tracking_uri", "Value": cloud.tracking_uri} in job_tags
    assert {"Key": "team", "Value": "ml-platform"} in job_tags


def test_dry_run_creates_nothing_and_prints_the_request_that_is_then_sent(cloud: CloudProject) -> None:
    dry = cloud.run("--dry-run", "--output", "json")
    assert dry.code == 0, dry.stderr
    planned = dry.json()
    assert planned["preflight_ok"] is True
    assert {check["check"] for check in planned["preflight"]} >= {
        "credentials", "region", "tracking server", "channel training", "output bucket", "image"}
    assert cloud.runs() == []
    assert cloud.moto.recorded("SageMaker.CreateTrainingJob") == []
    assert cloud.keys("configs/") == []

    real = cloud.run("--output", "json")
    assert real.code == 0, real.stderr
    report = real.json()
    (sent,) = cloud.moto.recorded("SageMaker.CreateTrainingJob")
    filled = json.dumps(planned["request"])
    for name, placeholder in planned["placeholders"].items():
        filled = filled.replace(placeholder, report[name])
    assert json.loads(filled) == sent


def test_wait_follows_the_job_and_mirrors_its_end_into_the_run(cloud: CloudProject) -> None:
    result = cloud.run("--wait", "--poll-seconds", "0.2", "--output", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["job_status"] == "Completed"
    assert report["status"] == "FINISHED"
    assert f"[{report['job_name']}] Completed" in result.stderr
    (run,) = cloud.runs()
    assert run.info.status == "FINISHED"


def test_status_by_run_id_and_by_job_name(cloud: CloudProject) -> None:
    report = cloud.run("--output", "json").json()
    env = {**cloud.env, "MLFLOW_TRACKING_URI": cloud.tracking_uri}
    by_run = cloud.project.smlaunch("status", report["run_id"], "--output", "json", env=env)
    assert by_run.code == 0, by_run.stderr
    assert NOISE not in by_run.stderr
    assert by_run.json()["job_name"] == report["job_name"]
    assert by_run.json()["job_status"] == "Completed"  # moto completes jobs at once…
    assert by_run.json()["run_status"] == "FINISHED"  # …so status settles the run that nobody waited for
    by_job = cloud.project.smlaunch("status", report["job_name"], "--output", "json", env=env)
    assert by_job.json()["run_id"] == report["run_id"]


def test_stop_reports_an_api_error_and_leaves_the_run_alone(cloud: CloudProject) -> None:
    # moto has no StopTrainingJob: it answers 500, which is a real API error from the client's view.
    report = cloud.run("--output", "json").json()
    env = {**cloud.env, "MLFLOW_TRACKING_URI": cloud.tracking_uri}
    stopped = cloud.project.smlaunch("stop", report["run_id"], env=env)
    assert stopped.code == 1
    assert f"error: cannot stop training job {report['job_name']}" in stopped.stderr
    sent = cloud.moto.recorded("SageMaker.StopTrainingJob")
    assert sent and all(body == {"TrainingJobName": report["job_name"]} for body in sent)  # botocore retries 5xx
    (run,) = cloud.runs()
    assert run.info.status == "RUNNING"


def test_stop_kills_the_run_once_sagemaker_accepts(cloud: CloudProject, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    from launcher.cloud.aws import Aws
    from launcher.commands import jobs

    report = cloud.run("--output", "json").json()
    for key, value in cloud.env.items():
        monkeypatch.setenv(key, value) if value is not None else monkeypatch.delenv(key, raising=False)
    aws = Aws(REGION)
    stubber = Stubber(aws.client("sagemaker"))  # checks each call's parameters against botocore's service model
    stubber.add_response("stop_training_job", {}, {"TrainingJobName": report["job_name"]})
    stubber.add_response("describe_training_job", DESCRIBED_STOPPING, {"TrainingJobName": report["job_name"]})
    with stubber:  # the stub fails the call if StopTrainingJob is not sent with this job's name
        result = jobs.stop(jobs.find(report["run_id"], cloud.tracking_uri, REGION), aws)
    stubber.assert_no_pending_responses()
    assert result["run_status"] == "KILLED"  # what the launcher did once SageMaker accepted the stop
    (run,) = [r for r in cloud.runs() if r.info.run_id == report["run_id"]]
    assert run.data.tags["launcher.failure_reason"] == "stopped with smlaunch stop"


DESCRIBED_STOPPING = {
    "TrainingJobName": "x", "TrainingJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/x",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m"}, "TrainingJobStatus": "Stopping",
    "SecondaryStatus": "Stopping", "AlgorithmSpecification": {"TrainingInputMode": "File"},
    "ResourceConfig": {"VolumeSizeInGB": 1}, "StoppingCondition": {},
    "CreationTime": "2026-11-28T00:00:00Z",
}


@pytest.mark.parametrize(
    ("edit", "env", "message"),
    [
        (None, {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
         "FAIL credentials: no AWS credentials found"),
        (("output_path: s3://ml-bucket/outputs", "output_path: s3://missing-bucket/outputs"), {},
         "FAIL output bucket: bucket missing-bucket does not exist"),
        ((f"{REPOSITORY}:v1", f"{REPOSITORY}:v2"), {}, "FAIL image: ECR image not found"),
        (("datasets/digits/", "datasets/absent/"), {}, "FAIL channel training: no data under"),
        (("uri: http://127.0.0.1:", "uri: http://127.0.0.1:1"), {}, "FAIL tracking server: cannot reach"),
    ],
    ids=["no credentials", "missing bucket", "missing image tag", "empty data prefix", "unreachable tracking"],
)
def test_preflight_failures_create_nothing(cloud: CloudProject, edit, env, message) -> None:
    config = cloud.project.root / "configs/cloud.yaml"
    if edit:
        text = config.read_text()
        assert edit[0] in text
        config.write_text(text.replace(edit[0], edit[1], 1))
    result = cloud.run(env=env)
    assert result.code == 3, result.stderr
    assert message in result.stderr
    assert "nothing was created" in result.stderr
    assert cloud.runs() == []
    assert cloud.keys("configs/") == []
    assert cloud.moto.recorded("SageMaker.CreateTrainingJob") == []


def test_local_store_is_refused_for_sagemaker_mode(cloud: CloudProject) -> None:
    result = cloud.run("--set", "tracking.uri=sqlite:///mlflow.db")
    assert result.code == 2
    assert "--set tracking.uri=sqlite:///mlflow.db: tracking.uri: a SageMaker job cannot reach a local store" \
        in result.stderr
    assert not (cloud.project.root / "mlflow.db").exists()
    assert cloud.moto.recorded("SageMaker.CreateTrainingJob") == []


class RejectingSageMaker:
    """Stands in for SageMaker's endpoint only, answering every call as SageMaker does when a quota is hit."""

    def __init__(self) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API names it so
                self.rfile.read(int(self.headers["Content-Length"]))
                body = json.dumps({"__type": "ResourceLimitExceeded", "message": "The account-level service limit "
                                   "'ml.m5.xlarge for spot training job usage' is 0 Instances"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_api_rejection_fails_the_run_with_the_reason_and_removes_uploaded_configs(cloud: CloudProject) -> None:
    rejecting = RejectingSageMaker()
    try:
        result = cloud.run("--output", "json", env={"AWS_ENDPOINT_URL_SAGEMAKER": rejecting.url})
    finally:
        rejecting.close()
    assert result.code == 1
    assert "SageMaker rejected the job (ResourceLimitExceeded): The account-level service limit" in result.stderr
    assert "Traceback" not in result.stderr
    (run,) = cloud.runs()
    assert run.info.status == "FAILED"
    assert "ResourceLimitExceeded" in run.data.tags["launcher.failure_reason"]
    assert cloud.keys("configs/") == []  # nothing left behind for a rerun to trip over


def test_follow_streams_every_hosts_log_and_returns_the_end_state(cloud: CloudProject,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from launcher.cloud.aws import LOG_GROUP, Aws
    from launcher.executors.sagemaker import follow

    for key, value in cloud.env.items():
        monkeypatch.setenv(key, value) if value is not None else monkeypatch.delenv(key, raising=False)
    sagemaker, logs = cloud.client("sagemaker"), cloud.client("logs")
    sagemaker.create_training_job(
        TrainingJobName="job-x", AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/R", OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/o"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    logs.create_log_group(logGroupName=LOG_GROUP)
    now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    for host in ("algo-1", "algo-2"):
        stream = f"job-x/{host}-1700000000"
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[
            {"timestamp": now + i, "message": f"epoch {i} on {host}"} for i in (1, 2)])
    lines: list[str] = []
    outcome = follow(Aws(REGION), "job-x", poll_seconds=0.1, write=lines.append)
    assert outcome.status == "Completed"
    assert outcome.model_artifact
    assert lines[0] == "[job-x] Completed / Completed\n"
    assert sorted(lines[1:]) == ["algo-1 | epoch 1 on algo-1\n", "algo-1 | epoch 2 on algo-1\n",
                                 "algo-2 | epoch 1 on algo-2\n", "algo-2 | epoch 2 on algo-2\n"]
