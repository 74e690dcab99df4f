"""Credentials never land in the record: planted ones are refused before anything is created (the message
names the place, never the value); derived ones are redacted; a Secrets Manager reference carries a real
credential to the job without it appearing anywhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cloud import BUCKET, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import AUTH_PASSWORD, AUTH_USER, MotoServer, free_port

PLANTED = {  # fake, but shaped like the real thing
    "AWS secret key": "kT3vQ9xLm2Rp7Wz/Yb4Nc8Hd1Fg6Js0AeUiOyTu5",
    "session token": "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDxTk8vR2pLq9Zm4NsW7yBcE1fHj3XoA6uVdG5iKtPzLwIgQ"
                     "m0Sa8Rt2Yv4Xc6Be9Nh1Kd3Fj5Lp7Gq+Vw/Uo8Iy0Tr2Ez4Ax6Cs9Du1Fw3Hy5Jb7Ln+Pm0Qo2Rk",
    "password": "Tr0ub4dor&3-Horse-Battery",
    "bearer token": "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc",
}


def plant(cloud: CloudProject, place: str, kind: str) -> list[str]:
    """Put a credential of `kind` where users put them; returns extra command-line arguments.

    Keys, tokens and bearer strings are recognised by their shape wherever they stand; a bare password has no
    shape, so it is planted the way passwords are written: under a name that says so, or inside a URL.
    """
    value = PLANTED[kind]
    word = "PASSWORD" if kind == "password" else "KEY_FOR_NOW"
    config = cloud.project.root / "configs/cloud.yaml"
    quoted = json.dumps(value)
    if place == "environment":
        config.write_text(config.read_text() + f"environment:\n  DB_{word}: {quoted}\n")
    elif place == "training param":
        training = cloud.project.root / "configs/train/digits.yaml"
        planted = json.dumps(f"postgresql://trainer:{value}@db.internal/features") if kind == "password" else quoted
        training.write_text(training.read_text().replace("train_file: train.npz", f"train_file: {planted}"))
    elif place == "tag":
        config.write_text(config.read_text().replace("  team: ml-platform",
                                                     f"  team: ml-platform\n  {word.lower()}: {quoted}"))
    elif place == "--set":
        return ["--set", f"environment.SERVICE_{word}={value}"]
    elif place == "modified tracked config":
        git(cloud.project.root, "add", "-A")
        git(cloud.project.root, "commit", "-q", "-m", "base")
        config.write_text(config.read_text() + f"# {word.lower()}: {value}\n")
    elif place == "modified tracked file":
        (cloud.project.root / "notes.txt").write_text("notes\n")
        git(cloud.project.root, "add", "-A")
        git(cloud.project.root, "commit", "-q", "-m", "base")
        (cloud.project.root / "notes.txt").write_text(f"notes\nexport AWS_{word}={value}\n")
    return []


def git(root: Path, *args: str) -> None:
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True)


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


PLACES = {"environment": "configs/cloud.yaml:", "training param": "configs/train/digits.yaml:",
          "tag": "configs/cloud.yaml:", "--set": "--set environment.SERVICE_",
          "modified tracked config": "configs/cloud.yaml:", "modified tracked file": "notes.txt (uncommitted change)"}


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("kind", list(PLANTED))
def test_a_planted_credential_is_refused_where_it_stands_and_never_echoed(cloud: CloudProject, place: str,
                                                                         kind: str) -> None:
    value = PLANTED[kind]
    result = cloud.run("--output", "json", *plant(cloud, place, kind))
    assert result.code == 2, result.stderr
    assert PLACES[place] in result.stderr
    assert "looks like" in result.stderr or "says it holds" in result.stderr
    for part in (value, value.split()[-1][:20]):
        assert part not in result.stderr and part not in result.stdout
    assert "Traceback" not in result.stderr
    assert cloud.runs() == []
    assert cloud.keys("configs/") == []
    assert cloud.moto.recorded("SageMaker.CreateTrainingJob") == []


def test_a_false_positive_passes_when_listed_and_the_run_says_so(project: Project) -> None:
    lookalike = "kT3vQ9xLm2Rp7Wz/Yb4Nc8Hd1Fg6Js0AeUiOyTu5"  # say, a content hash the team keeps in a tag
    refused = project.smlaunch("run", "configs/local.yaml", "--set", f"tags.dataset_hash={lookalike}")
    assert refused.code == 2
    allowed = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("idle"),
                               "--set", f"tags.dataset_hash={lookalike}", "--set", "not_secrets=[tags.dataset_hash]")
    assert allowed.code == 0, allowed.stderr[-2000:]
    (run,) = project.runs()
    assert run.data.tags["launcher.not_secrets"] == "tags.dataset_hash"


def test_derived_credentials_are_redacted_not_refused(project: Project) -> None:
    git(project.root, "commit", "-q", "--allow-empty", "-m", "base")
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    subprocess.run(["git", "remote", "add", "origin", f"https://{token}@github.com/org/repo.git"], cwd=project.root,
                   check=True)
    result = project.smlaunch("run", "configs/local.yaml", *project.task("idle"))
    assert result.code == 0, result.stderr[-2000:]
    (run,) = project.runs()
    assert run.data.tags["mlflow.source.git.repoURL"] == "https://***@github.com/org/repo.git"
    assert token not in json.dumps(run.data.tags)
    password = "Sup3r-Secret-Pass"
    shown = project.smlaunch("status", "0" * 32, "--tracking-uri", f"http://ana:{password}@127.0.0.1:{free_port()}",
                             env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert shown.code == 1 and "http://***@127.0.0.1" in shown.stderr and password not in shown.stderr


@pytest.fixture
def secured(project: Project, moto: MotoServer, mlflow_auth_url: str) -> tuple[Project, dict[str, str | None], str]:
    """A local project tracking to the basic-auth server, its password in (moto's) Secrets Manager."""
    import boto3

    moto.reset()
    env = moto.aws_env()
    secrets = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto.endpoint,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = secrets.create_secret(Name="mlflow/password", SecretString=AUTH_PASSWORD)["ARN"]
    config = project.config
    config.write_text(config.read_text().replace("uri: sqlite:///mlflow.db", f"uri: {mlflow_auth_url}")
                      + f"environment:\n  MLFLOW_TRACKING_USERNAME: {AUTH_USER}\n"
                      + "secrets:\n  MLFLOW_TRACKING_PASSWORD: mlflow/password\n")
    laptop = {**env, "MLFLOW_TRACKING_USERNAME": AUTH_USER, "MLFLOW_TRACKING_PASSWORD": AUTH_PASSWORD,
              "MLFLOW_TRACKING_TOKEN": None, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    return project, laptop, arn


def test_a_secrets_manager_reference_reaches_the_job_and_nothing_else(
        secured: tuple[Project, dict[str, str | None], str], monkeypatch: pytest.MonkeyPatch,
        mlflow_auth_url: str) -> None:
    from mlflow import MlflowClient

    project, laptop, arn = secured
    planned = project.smlaunch("run", "configs/local.yaml", "--dry-run", "--output", "json", env=laptop)
    assert planned.code == 0, planned.stderr
    environment = planned.json()["request"]["Environment"]
    assert environment["SMLAUNCH_SECRET_MLFLOW_TRACKING_PASSWORD"] == arn  # the name, resolved to its ARN
    assert AUTH_PASSWORD not in planned.stdout
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=2", env=laptop)
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    assert report["status"] == "FINISHED"
    for key, value in laptop.items():
        monkeypatch.setenv(key, value) if value is not None else monkeypatch.delenv(key, raising=False)
    client = MlflowClient(tracking_uri=mlflow_auth_url)
    run = client.get_run(report["run_id"])
    assert [m.step for m in client.get_metric_history(report["run_id"], "val_loss")] == [1, 2]  # the job logged
    assert AUTH_PASSWORD not in json.dumps([run.data.params, run.data.tags])
    for artifact in ("config/resolved.yaml", "config/training.yaml", "config/job/local.yaml"):
        assert AUTH_PASSWORD not in Path(client.download_artifacts(report["run_id"], artifact)).read_text()
    for path in (project.root / ".smlaunch").rglob("*"):
        if path.is_file():
            assert AUTH_PASSWORD.encode() not in path.read_bytes(), path
    assert AUTH_PASSWORD not in result.stderr + result.stdout


def test_every_command_speaks_to_an_authenticated_server_as_mlflow_does(
        secured: tuple[Project, dict[str, str | None], str], tmp_path: Path) -> None:
    project, laptop, _ = secured
    idle = project.task("idle")  # the subject is the credentials each command sends, not training
    report = project.smlaunch("run", "configs/local.yaml", "--output", "json", *idle, env=laptop).json()
    run_id = report["run_id"]
    uri = ["--tracking-uri", laptop_uri(project)]
    wrong = {**laptop, "MLFLOW_TRACKING_PASSWORD": "not-the-password"}
    token_only = {**laptop, "MLFLOW_TRACKING_USERNAME": None, "MLFLOW_TRACKING_PASSWORD": None,
                  "MLFLOW_TRACKING_TOKEN": "a-token-this-server-does-not-take"}
    both = {**laptop, "MLFLOW_TRACKING_TOKEN": "ignored: basic auth wins, as in MLflow's client"}
    home = tmp_path / "home"
    (home / ".mlflow").mkdir(parents=True)
    (home / ".mlflow/credentials").write_text(f"[mlflow]\nmlflow_tracking_username = {AUTH_USER}\n"
                                              f"mlflow_tracking_password = {AUTH_PASSWORD}\n")
    from_file = {**laptop, "MLFLOW_TRACKING_USERNAME": None, "MLFLOW_TRACKING_PASSWORD": None, "HOME": str(home)}
    commands = {"status": ["status", run_id, *uri], "diff": ["diff", run_id, run_id, *uri],
                "reproduce": ["reproduce", run_id, *uri], "run": ["run", "configs/local.yaml", *idle]}
    for name, command in commands.items():
        # each way of authenticating once (status); every other command with one, and refused with both bad ones
        for credentials in (laptop, both, from_file) if name == "status" else (from_file,):
            done = project.smlaunch(*command, env=credentials)
            assert done.code == 0, (name, done.stderr[-1500:])
        for credentials in (wrong, token_only) if name in ("status", "run") else (wrong,):
            before = len(runs_on(project, laptop))
            done = project.smlaunch(*command, env=credentials)
            assert done.code == (3 if name == "run" else 1), (name, done.stderr[-1500:])  # run: at pre-flight
            assert "refused the credentials (401)" in done.stderr and "Traceback" not in done.stderr, name
            assert len(runs_on(project, laptop)) == before  # nothing was created


def laptop_uri(project: Project) -> str:
    text = project.config.read_text()
    return text.split("uri: ", 1)[1].split()[0]


def runs_on(project: Project, laptop: dict[str, str | None]) -> list[object]:
    import os

    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    saved = {key: os.environ.get(key) for key in laptop}
    os.environ.update({key: value for key, value in laptop.items() if value is not None})
    try:
        client = MlflowClient(tracking_uri=laptop_uri(project))
        experiments = client.search_experiments(view_type=ViewType.ALL)
        return list(client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL))
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


_ = BUCKET  # the cloud fixture's bucket holds the configs a refused launch must not upload
