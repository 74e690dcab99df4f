"""`smlaunch reproduce` rebuilds a run from the tracking store alone; `smlaunch diff` shows only differences."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Project, copy_project


def smlaunch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


# one worker builds the module's fixture once, under `make test`'s two workers
pytestmark = pytest.mark.xdist_group("reproduce")


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory, digits_data: Path) -> tuple[Project, dict]:
    root = tmp_path_factory.mktemp("reproduce")
    copy_project(root, digits_data)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "configs", "train"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"], cwd=root,
                   check=True)
    project = Project(root)
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=5")
    assert result.code == 0, result.stderr
    return project, result.json()


def test_reproduce_from_an_empty_directory_gives_identical_params_and_metrics(
        original: tuple[Project, dict], tmp_path: Path) -> None:
    from mlflow import MlflowClient

    project, report = original
    done = smlaunch(tmp_path, "reproduce", report["run_id"], "--tracking-uri", project.tracking_uri, "--output", "json")
    assert done.returncode == 0, done.stderr
    again = json.loads(done.stdout)
    assert again["run_id"] != report["run_id"]
    assert "not a git checkout" in done.stderr  # the source tree cannot be compared: said, not hidden
    client = MlflowClient(tracking_uri=project.tracking_uri)
    first, second = client.get_run(report["run_id"]), client.get_run(again["run_id"])
    assert second.info.status == "FINISHED"
    assert second.data.params == first.data.params  # what was written, the same from any directory
    assert first.data.params["local.work_dir"] == ".smlaunch/jobs" and first.data.params["code.dirs"] == '["../train"]'
    assert first.data.tags["launcher.location.local.work_dir"] == str(project.root / ".smlaunch/jobs")  # a tag
    assert second.data.tags["launcher.location.local.work_dir"] == str(tmp_path / ".smlaunch/jobs")
    assert second.data.tags["launcher.code_sha256"] == first.data.tags["launcher.code_sha256"]
    assert (tmp_path / "outputs" / again["job_name"] / "output/model.tar.gz").is_file()
    assert second.data.metrics == first.data.metrics  # bit-identical floats on CPU
    assert second.data.tags["launcher.reproduced_from"] == report["run_id"]
    channels = [Path(client.download_artifacts(run.info.run_id, "config", str(tmp_path / name)))
                for run, name in ((first, "a"), (second, "b"))]
    assert files_of(channels[0]) == files_of(channels[1])  # the config channel, byte for byte


def test_strict_refuses_when_the_source_tree_differs(original: tuple[Project, dict], tmp_path: Path) -> None:
    project, report = original
    before = len(project.runs())
    done = smlaunch(tmp_path, "reproduce", report["run_id"], "--tracking-uri", project.tracking_uri, "--strict")
    assert done.returncode == 2
    assert f"not reproducing {report['run_id']} with --strict" in done.stderr
    assert len(project.runs()) == before


def test_reproduce_can_change_settings_and_diff_names_only_what_differs(original: tuple[Project, dict],
                                                                       tmp_path: Path) -> None:
    project, report = original
    done = smlaunch(tmp_path, "reproduce", report["run_id"], "--tracking-uri", project.tracking_uri,
                    "--set", "train.optimizer.lr=0.01", "--output", "json")
    assert done.returncode == 0, done.stderr
    changed = json.loads(done.stdout)["run_id"]
    shown = smlaunch(tmp_path, "diff", report["run_id"], changed, "--tracking-uri", project.tracking_uri,
                     "--output", "json")
    assert shown.returncode == 0, shown.stderr
    difference = json.loads(shown.stdout)
    assert difference["params"] == {"train.optimizer.lr": ["0.003", "0.01"]}
    assert set(difference["metrics"]) == {"train_loss", "val_loss", "val_accuracy"}
    assert difference["provenance"]["launcher.reproduced_from"] == [None, report["run_id"]]
    text = smlaunch(tmp_path, "diff", report["run_id"], changed, "--tracking-uri", project.tracking_uri)
    assert "train.optimizer.lr  0.003 → 0.01" in text.stdout
    assert "train.epochs " not in text.stdout.split("provenance:")[0]  # unchanged params are not listed


def test_unknown_run_is_a_clear_error(original: tuple[Project, dict], tmp_path: Path) -> None:
    project, _ = original
    done = smlaunch(tmp_path, "reproduce", "0" * 32, "--tracking-uri", project.tracking_uri)
    assert done.returncode == 1
    assert f"run {'0' * 32} not found" in done.stderr
    assert "Traceback" not in done.stderr


def files_of(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*"))
            if path.is_file()}


def test_a_cloud_run_reproduced_locally_gets_a_local_output_path_and_no_pinned_image() -> None:
    from launcher.commands.reproduce import _pinned

    tags = {"launcher.mode": "sagemaker", "launcher.image_uri": "123.dkr.ecr.eu-west-1.amazonaws.com/r@sha256:ab"}
    assert _pinned(tags, "local-process") == (["mode=local-process", "sagemaker.output_path=outputs"], None)
    assert _pinned(tags, None) == ([], tags["launcher.image_uri"])  # the digest it ran, not today's tag


def test_reproduce_runs_the_code_that_ran_even_after_it_changed(original: tuple[Project, dict],
                                                                 tmp_path: Path) -> None:
    from mlflow import MlflowClient

    project, report = original
    task = project.root / "train/digits/task.py"
    before = task.read_text()
    task.write_text(before.replace("train_loss = train_epoch(", "train_loss = 1000 + train_epoch("))
    try:
        edited = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=5")
        again = smlaunch(tmp_path, "reproduce", report["run_id"], "--tracking-uri", project.tracking_uri,
                         "--output", "json")
    finally:
        task.write_text(before)
    assert edited.code == 0 and again.returncode == 0, again.stderr
    client = MlflowClient(tracking_uri=project.tracking_uri)
    first, changed = client.get_run(report["run_id"]), client.get_run(edited.json()["run_id"])
    second = client.get_run(json.loads(again.stdout)["run_id"])
    assert changed.data.metrics["train_loss"] > 1000  # the edited code ran: no image, no rebuild
    assert changed.data.tags["launcher.code_sha256"] != first.data.tags["launcher.code_sha256"]
    assert "using the run's own code" in again.stderr
    assert second.data.tags["launcher.code_sha256"] == first.data.tags["launcher.code_sha256"]
    assert second.data.metrics == first.data.metrics  # bit-identical: the code that ran, not today's


def test_a_teammate_reproduces_a_run_from_another_clone_at_another_path(digits_data: Path, tmp_path: Path,
                                                                         mlflow_url: str) -> None:
    """One checkout runs against a shared MLflow server; a second clone elsewhere reproduces it from the run
    alone: FINISHED, zero differing params, the same final metrics bit for bit (CPU)."""
    from mlflow import MlflowClient

    first_clone, second_clone = tmp_path / "ana" / "work", tmp_path / "ben" / "code" / "project"
    for root in (first_clone, second_clone):
        copy_project(root, digits_data)
        config = root / "configs/local.yaml"
        config.write_text(config.read_text().replace("uri: sqlite:///mlflow.db", f"uri: {mlflow_url}"))
    ran = smlaunch(first_clone, "run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=3")
    assert ran.returncode == 0, ran.stderr[-2000:]
    run_id = json.loads(ran.stdout)["run_id"]
    again = smlaunch(second_clone, "reproduce", run_id, "--tracking-uri", mlflow_url, "--output", "json")
    assert again.returncode == 0, again.stderr[-2000:]
    client = MlflowClient(tracking_uri=mlflow_url)
    first, second = client.get_run(run_id), client.get_run(json.loads(again.stdout)["run_id"])
    assert second.info.status == "FINISHED"
    differing = {key for key in first.data.params.keys() | second.data.params.keys()
                 if first.data.params.get(key) != second.data.params.get(key)}
    assert differing == set()
    assert second.data.metrics == first.data.metrics
    assert second.data.tags["launcher.location.channels.training.uri"] == str(second_clone / "data/digits")
    shown = smlaunch(second_clone, "diff", run_id, second.info.run_id, "--tracking-uri", mlflow_url, "--output",
                     "json")
    assert json.loads(shown.stdout)["params"] == {}


def test_untracked_files_shipped_with_the_job_make_the_run_dirty_and_are_listed(project: Project) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=project.root, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "clean")
    project.write("train/digits/helpers_wip.py", "SCALE = 2\n")  # new, never added: it ships all the same
    dirty = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=1")
    assert dirty.code == 0, dirty.stderr[-2000:]
    from mlflow import MlflowClient

    after = MlflowClient(tracking_uri=project.tracking_uri).get_run(dirty.json()["run_id"])
    assert after.data.tags["launcher.git_dirty"] == "true"  # the commit is clean; what ran is not the commit
    assert after.data.tags["launcher.untracked_files"] == "train/digits/helpers_wip.py"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project.root, capture_output=True, text=True).stdout
    assert after.data.tags["mlflow.source.git.commit"] == head.strip()
