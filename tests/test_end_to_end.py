"""`smlaunch run` on the default local config, end to end, asserted on what MLflow stores."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import Project


def expected_params(root: Path) -> dict[str, str]:
    """configs/local.yaml + configs/train/digits.yaml as params, written out (not computed by the code under
    test): every value as MLflow stores it, schema defaults included, paths as written (the same on every
    machine; where they pointed here is in the `launcher.location.*` tags)."""
    return {
        "experiment": "digits-smoke", "description": "Smoke run of the digits example on this machine.",
        "mode": "local-process", "training_config": "train/digits.yaml",
        "tracking.uri": "sqlite:///mlflow.db", "tracking.register_as": "digits-mlp",
        "tracking.assume_reachable": "false",
        "sagemaker.instance_type": "local", "sagemaker.instance_count": "1", "sagemaker.volume_size_gb": "30",
        "sagemaker.max_runtime_seconds": "900", "sagemaker.output_path": "outputs",
        "sagemaker.remote_debug": "false",
        "channels.training.uri": "../data/digits", "channels.training.input_mode": "File",
        "channels.training.distribution": "FullyReplicated", "distribution.type": "none",
        "distribution.processes_per_host": "auto", "distribution.backend": "auto",
        "tags.project": "smlaunch-example", "local.work_dir": ".smlaunch/jobs", "local.keep_jobs": "10",
        "code.dirs": '["../train"]', "code.max_mb": "20",
        "not_secrets": "[]",
        "train.task": "train.digits.task:run", "train.seed": "42", "train.num_threads": "1",
        "train.data.channel": "training", "train.data.train_file": "train.npz",
        "train.data.validation_file": "validation.npz", "train.model.hidden_sizes": "[128, 64]",
        "train.model.dropout": "0.1", "train.optimizer.name": "adam", "train.optimizer.lr": "0.003",
        "train.optimizer.weight_decay": "0.0", "train.optimizer.momentum": "0.9", "train.batch_size": "64",
        "train.epochs": "20", "train.checkpoint_every": "1",
    }


def content_digest(directory: Path) -> str:
    """SHA-256 over each file's relative path and bytes, in path order: the fingerprint's documented recipe,
    computed here independently of launcher.tracking.fingerprint."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# one worker builds the module's fixture once, under `make test`'s two workers
pytestmark = pytest.mark.xdist_group("end_to_end")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, digits_data: Path) -> tuple[Project, dict]:
    from tests.conftest import copy_project

    root = tmp_path_factory.mktemp("e2e")
    copy_project(root, digits_data)
    (root / "notes.txt").write_text("first\n")
    (root / ".env").write_text("TOKEN=old\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "notes.txt", ".env"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"], cwd=root,
                   check=True)
    (root / "notes.txt").write_text("first\nsecond, uncommitted\n")
    (root / ".env").write_text("TOKEN=do-not-leak\n")
    project = Project(root)
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json",
                              "--set", "tracking.register_as=digits-mlp")
    assert result.code == 0, result.stderr
    return project, result.json()


def test_run_finishes_with_every_param_and_tag(finished: tuple[Project, dict]) -> None:
    from mlflow import MlflowClient

    project, report = finished
    assert set(report) >= {"run_id", "experiment_id", "tracking_uri", "status", "job_name"}
    assert report["status"] == "FINISHED"
    run = MlflowClient(tracking_uri=project.tracking_uri).get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params == expected_params(project.root)
    root = project.root
    locations = {key.removeprefix("launcher.location."): value for key, value in run.data.tags.items()
                 if key.startswith("launcher.location.")}
    assert locations == {"tracking.uri": f"sqlite:///{root}/mlflow.db", "sagemaker.output_path": f"{root}/outputs",
                         "channels.training.uri": f"{root}/data/digits", "local.work_dir": f"{root}/.smlaunch/jobs",
                         "code.dirs": f"{root}/train"}
    assert run.data.tags["launcher.config_dir"] == f"{root}/configs"
    assert run.info.user_id and run.info.user_id == run.data.tags["mlflow.user"]
    tags = run.data.tags
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project.root, capture_output=True, text=True).stdout
    assert tags["mlflow.source.git.commit"] == head.strip()
    assert tags["mlflow.source.name"] == "configs/local.yaml"
    assert tags["mlflow.user"]
    assert "smlaunch run configs/local.yaml" in tags["mlflow.note.content"]
    assert tags["launcher.mode"] == "local-process"
    assert tags["launcher.config_path"] == "configs/local.yaml"
    assert tags["launcher.version"]
    assert tags["launcher.job_name"] == report["job_name"]


def test_metrics_are_logged_per_epoch(finished: tuple[Project, dict]) -> None:
    from mlflow import MlflowClient

    project, report = finished
    client = MlflowClient(tracking_uri=project.tracking_uri)
    for key in ("train_loss", "val_loss", "val_accuracy"):
        history = client.get_metric_history(report["run_id"], key)
        assert [point.step for point in history] == list(range(1, 21)), key


def test_configs_are_run_artifacts(finished: tuple[Project, dict]) -> None:
    from mlflow import MlflowClient

    project, report = finished
    client = MlflowClient(tracking_uri=project.tracking_uri)
    run_id = report["run_id"]
    listed = {a.path for a in client.list_artifacts(run_id, "config")}
    listed |= {a.path for d in ("config/job", "config/train") for a in client.list_artifacts(run_id, d)}
    assert {"config/resolved.yaml", "config/training.yaml", "config/job/local.yaml",
            "config/train/digits.yaml"} <= listed
    local = Path(client.download_artifacts(run_id, "config/job/local.yaml"))
    assert local.read_text() == (project.root / "configs/local.yaml").read_text()
    resolved = yaml.safe_load(Path(client.download_artifacts(run_id, "config/resolved.yaml")).read_text())
    assert resolved["train"]["optimizer"]["lr"] == 0.003
    assert resolved["mode"] == "local-process"


def test_logged_model_loads_and_scores(finished: tuple[Project, dict]) -> None:
    import mlflow.pytorch
    import torch

    project, report = finished
    mlflow.set_tracking_uri(project.tracking_uri)
    model = mlflow.pytorch.load_model(f"runs:/{report['run_id']}/model")
    with np.load(project.root / "data/digits/validation.npz") as held_out:
        x, y = held_out["x"], held_out["y"]
    with torch.no_grad():
        predicted = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    assert (predicted == y).mean() >= 0.95


def test_model_tarball_written_like_sagemaker(finished: tuple[Project, dict]) -> None:
    project, report = finished
    archive = project.root / "outputs" / report["job_name"] / "output" / "model.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "model/MLmodel" in names


def test_provenance_travels_with_the_run(finished: tuple[Project, dict]) -> None:
    from mlflow import MlflowClient

    project, report = finished
    client = MlflowClient(tracking_uri=project.tracking_uri)
    run = client.get_run(report["run_id"])
    tags = run.data.tags
    assert tags["launcher.git_dirty"] == "true"
    assert tags["launcher.versions.torch"].startswith("2.13.0")
    assert tags["launcher.versions.mlflow"]
    lock = Path(__file__).resolve().parent.parent / "requirements.lock"
    assert tags["launcher.lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert tags["launcher.command"] == ("smlaunch run configs/local.yaml --output json --set "
                                       "tracking.register_as=digits-mlp")
    diff = Path(client.download_artifacts(report["run_id"], "provenance/uncommitted.diff")).read_text()
    assert "+second, uncommitted" in diff
    assert "do-not-leak" not in diff and ".env" not in diff
    (dataset,) = [item.dataset for item in run.inputs.dataset_inputs]
    assert dataset.name == "training"
    assert dataset.digest == content_digest(project.root / "data/digits")
    note = tags["mlflow.note.content"]
    assert f"smlaunch reproduce {report['run_id']}" in note


def test_training_pictures_and_registered_model(finished: tuple[Project, dict]) -> None:
    from mlflow import MlflowClient

    project, report = finished
    client = MlflowClient(tracking_uri=project.tracking_uri)
    for name in ("plots/learning_curves.png", "plots/confusion_matrix.png"):
        image = Path(client.download_artifacts(report["run_id"], name)).read_bytes()
        assert image.startswith(b"\x89PNG\r\n\x1a\n"), name
    (version,) = client.search_model_versions("name='digits-mlp'")
    assert version.run_id == report["run_id"]
