"""The REST run creation (no mlflow import) records exactly what the MLflow client would, on a real server."""

from __future__ import annotations

import base64
import uuid

import pytest

from launcher import tracking, tracking_rest


@pytest.mark.filterwarnings("ignore:Could not find any registered plugin")
def test_rest_and_client_runs_hold_the_same_params_and_tags(mlflow_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    experiment = f"rest-{uuid.uuid4().hex[:8]}"
    params = {f"p{i}": str(i) for i in range(150)}  # more than one log-batch
    tags = {"mlflow.user": "someone", "launcher.mode": "sagemaker"}
    by_rest = tracking.start_run(mlflow_url, experiment, "by-rest", params, tags)  # experiment created here
    assert tracking_rest.handles(mlflow_url)
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "some-plugin")  # forces the MLflow client path
    assert not tracking_rest.handles(mlflow_url)
    by_client = tracking.start_run(mlflow_url, experiment, "by-client", params, tags)
    assert by_client.experiment_id == by_rest.experiment_id  # the experiment was found, not created twice
    client = MlflowClient(tracking_uri=mlflow_url)
    rest_run, client_run = client.get_run(by_rest.run_id), client.get_run(by_client.run_id)
    assert rest_run.data.params == client_run.data.params == params
    assert rest_run.info.status == client_run.info.status == "RUNNING"
    assert rest_run.info.run_name == "by-rest"
    assert by_rest.artifact_uri == rest_run.info.artifact_uri
    for key, value in tags.items():
        assert rest_run.data.tags[key] == client_run.data.tags[key] == value


def test_only_plain_servers_take_the_rest_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in tracking_rest.CLIENT_ONLY_SETTINGS:
        monkeypatch.delenv(variable, raising=False)
    assert tracking_rest.handles("https://mlflow.example:5000")
    assert not tracking_rest.handles("sqlite:////tmp/x.db")
    assert not tracking_rest.handles("arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team")
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", "/x.pem")
    assert not tracking_rest.handles("https://mlflow.example:5000")


def test_auth_headers_follow_mlflows_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    assert tracking_rest._headers()["Authorization"] == "Basic " + base64.b64encode(b"ana:s3cret").decode()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    assert tracking_rest._headers()["Authorization"] == "Bearer tok"


def test_unreachable_server_is_a_clear_error() -> None:
    from launcher.errors import ExecutionError
    from tests.services import free_port

    with pytest.raises(ExecutionError, match=r"cannot reach MLflow at http://127\.0\.0\.1"):
        tracking_rest.start_run(f"http://127.0.0.1:{free_port()}", "x", None, {}, {})
