"""The launcher's MLflow door against real stores, and the one owner of "what kind of tracking URI is this?"."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from launcher.config import tracking_uri
from launcher.config.tracking_uri import UriKind
from launcher.tracking import client
from launcher.tracking.client import TrackingError
from tests.conftest import Project
from tests.services import free_port


@pytest.mark.parametrize(("uri", "kind", "resolved"), [
    ("sqlite:///mlflow.db", UriKind.SQLITE, "sqlite:////work/x/mlflow.db"),
    ("sqlite:////abs/m.db", UriKind.SQLITE, "sqlite:////abs/m.db"),
    ("file:./mlruns", UriKind.FILE, "file:///work/x/mlruns"),
    ("file:///srv/mlruns", UriKind.FILE, "file:///srv/mlruns"),
    ("mlruns", UriKind.FILE, "file:///work/x/mlruns"),
    ("/srv/mlruns", UriKind.FILE, "file:///srv/mlruns"),
    ("http://mlflow:5000", UriKind.SERVER, "http://mlflow:5000"),
    ("https://mlflow.example.com", UriKind.SERVER, "https://mlflow.example.com"),
    ("arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team", UriKind.MANAGED, None),
    ("databricks", UriKind.OTHER, "databricks"),
    ("databricks://profile", UriKind.OTHER, "databricks://profile"),
])
def test_every_kind_of_tracking_uri_is_classified_and_resolved_once(uri: str, kind: UriKind,
                                                                    resolved: str | None) -> None:
    assert tracking_uri.kind(uri) is kind
    assert tracking_uri.is_local_store(uri) == (kind in (UriKind.SQLITE, UriKind.FILE))
    assert tracking_uri.resolve(uri, Path("/work/x")) == (resolved or uri)


def test_userinfo_and_credential_queries_are_redacted_wherever_a_uri_is_shown() -> None:
    from train.contract.uris import redact

    assert redact("https://ana:s3cret@mlflow.example.com:5000/x") == "https://***@mlflow.example.com:5000/x"
    assert redact("http://mlflow:5000") == "http://mlflow:5000"
    assert redact("sqlite:////abs/mlflow.db") == "sqlite:////abs/mlflow.db"  # untouched, not normalized
    assert redact("https://git.example.com/org/repo.git?access_token=glpat-abc123def456&ref=main") == \
        "https://git.example.com/org/repo.git?access_token=***&ref=main"


@pytest.mark.filterwarnings("ignore:Could not find any registered plugin")
def test_a_run_on_a_server_holds_every_param_and_tag_and_its_user(mlflow_url: str) -> None:
    from mlflow import MlflowClient

    experiment = f"client-{uuid.uuid4().hex[:8]}"
    params = {f"p{i}": str(i) for i in range(150)}  # more than one log-batch
    tags = {"mlflow.user": "someone", "launcher.mode": "sagemaker"}
    run = client.start_run(mlflow_url, experiment, "by-client", params, tags)
    again = client.start_run(mlflow_url, experiment, "second", {}, tags)
    assert again.experiment_id == run.experiment_id  # found, not created twice
    stored = MlflowClient(tracking_uri=mlflow_url).get_run(run.run_id)
    assert stored.data.params == params
    assert stored.info.status == "RUNNING"
    assert stored.info.run_name == "by-client"
    assert stored.info.user_id == "someone"
    assert {key: stored.data.tags[key] for key in tags} == tags


def test_an_unreachable_server_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(TrackingError, match=r"cannot reach MLflow at http://127\.0\.0\.1:\d+"):
        client.start_run(f"http://127.0.0.1:{free_port()}", "x", None, {}, {})


def test_reading_a_run_never_creates_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(TrackingError, match=f"no MLflow store at {missing}"):
        client.get_run(f"sqlite:///{missing}", "0" * 32)
    assert not missing.exists()


def test_status_and_diff_with_a_mistyped_store_create_nothing(project: Project) -> None:
    for command in (["status", "0" * 32], ["diff", "0" * 32, "1" * 32], ["reproduce", "0" * 32]):
        result = project.smlaunch(*command, "--tracking-uri", "sqlite:///mlfow.db")
        assert result.code == 1, result.stderr
        assert f"no MLflow store at {project.root / 'mlfow.db'}" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (project.root / "mlfow.db").exists()



def _record_at_once(runs: list[client.TrackedRun], digest: str) -> list[Exception]:
    """Every run logs the same dataset at the same moment, one thread each; the errors raised."""
    import threading

    barrier = threading.Barrier(len(runs))
    errors: list[Exception] = []

    def record(run: client.TrackedRun) -> None:
        barrier.wait()
        try:
            client.log_datasets(run, [("training", digest, "local", '{"uri": "/data"}')])
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=record, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_parallel_launches_logging_the_same_data_each_record_it(tmp_path: Path) -> None:
    """A sweep's trials fingerprint the same channel at the same moment: MLflow's look-up-then-insert of the
    dataset races (a unique-key error for all but one, 4 rounds in 5 before the fix); every run still gets it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for round_number in range(5):
        runs = [client.start_run(uri, "exp", None, {}, {}) for _ in range(8)]
        assert _record_at_once(runs, f"d{round_number}") == []
        for run in runs:
            (found,) = client.get_run(uri, run.run_id).inputs.dataset_inputs
            assert (found.dataset.name, found.dataset.digest) == ("training", f"d{round_number}")
