"""local-container mode: the real image, built here on a locally made base, runs a smoke job to a FINISHED run."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import Project


@pytest.fixture
def container_project(project: Project, training_image: str) -> Project:
    config = project.root / "configs/container.yaml"
    config.write_text(config.read_text().replace("smlaunch-train:latest", training_image))
    return project


def test_local_container_run_finishes_in_the_image(container_project: Project, docker_env: dict[str, str]) -> None:
    from mlflow import MlflowClient

    result = container_project.smlaunch("run", "configs/container.yaml", "--output", "json",
                                        "--set", "train.epochs=3", env={"DOCKER_HOST": docker_env.get("DOCKER_HOST")})
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    assert report["status"] == "FINISHED"
    assert "Failed to import Git" not in result.stderr  # the image's start-up is quiet
    run = MlflowClient(tracking_uri=container_project.tracking_uri).get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["launcher.mode"] == "local-container"
    assert [m.step for m in MlflowClient(tracking_uri=container_project.tracking_uri)
            .get_metric_history(report["run_id"], "val_accuracy")] == [1, 2, 3]
    assert (container_project.root / "outputs" / report["job_name"] / "output/model.tar.gz").is_file()


def test_shell_runs_in_the_image_with_the_jobs_tree(container_project: Project, docker_env: dict[str, str]) -> None:
    result = container_project.smlaunch(
        "shell", "configs/container.yaml", "--", "sh", "-c",
        "ls /opt/ml/input/data/training /opt/ml/input/data/config && cat /opt/ml/input/config/resourceconfig.json "
        "&& echo job=$TRAINING_JOB_NAME exp=$MLFLOW_EXPERIMENT_NAME sm=${SM_CURRENT_HOST:-unset} && command -v train",
        env={"DOCKER_HOST": docker_env.get("DOCKER_HOST")})
    assert result.code == 0, result.stderr
    assert "train.npz" in result.stdout and "training.yaml" in result.stdout
    assert '"current_host": "algo-1"' in result.stdout
    # what SageMaker sets (the job's name), not the toolkit's SM_* (the runtime derives those when it starts)
    assert re.search(r"job=shell-\d{8}-\d{6} exp=digits-container sm=unset", result.stdout), result.stdout
    assert "/usr/local/bin/train" in result.stdout


def test_image_labels_and_entrypoint(training_image: str, docker_env: dict[str, str]) -> None:
    labels = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", training_image],
                            env=docker_env, capture_output=True, text=True, check=True).stdout
    assert '"org.opencontainers.image.version":"0.1.0"' in labels
    assert '"org.opencontainers.image.revision"' in labels
    script = subprocess.run(["docker", "run", "--rm", "--network", "host", training_image, "cat",
                             "/usr/local/bin/train"], env=docker_env, capture_output=True, text=True, check=True)
    from train.contract.paths import entrypoint_script

    assert script.stdout == entrypoint_script()
    launcher = subprocess.run(["docker", "run", "--rm", "--network", "host", training_image, "python3", "-c",
                               "import launcher"], env=docker_env, capture_output=True, text=True, check=False)
    assert launcher.returncode == 1  # only the container side is in the image, and that is why it fails:
    assert "ModuleNotFoundError: No module named 'launcher'" in launcher.stderr
    flavours = subprocess.run(["docker", "run", "--rm", "--network", "host", training_image, "python3", "-c",
                               "import sklearn, mlflow.sklearn"], env=docker_env, capture_output=True, text=True,
                              check=False)
    assert flavours.returncode == 0, flavours.stderr[-2000:]  # log_model of a scikit-learn estimator works there


def test_reproduce_pins_the_local_image_the_run_used(container_project: Project, docker_env: dict[str, str],
                                                     tmp_path) -> None:
    env = {"DOCKER_HOST": docker_env.get("DOCKER_HOST")}
    first = container_project.smlaunch("run", "configs/container.yaml", "--output", "json", "--set", "train.epochs=1",
                                       env=env)
    assert first.code == 0, first.stderr[-2000:]
    report = first.json()
    again = container_project.smlaunch("reproduce", report["run_id"], "--tracking-uri",
                                       container_project.tracking_uri, "--output", "json", env=env)
    assert again.code == 0, again.stderr[-2000:]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=container_project.tracking_uri)
    original, reproduced = client.get_run(report["run_id"]), client.get_run(again.json()["run_id"])
    assert reproduced.data.tags["launcher.image"] == original.data.tags["launcher.image_id"]
    assert reproduced.data.tags["launcher.image_id"] == original.data.tags["launcher.image_id"]
    assert reproduced.data.metrics == original.data.metrics


def test_a_code_edit_needs_no_image_rebuild(container_project: Project, docker_env: dict[str, str]) -> None:
    from mlflow import MlflowClient

    env = {"DOCKER_HOST": docker_env.get("DOCKER_HOST")}
    first = container_project.smlaunch("run", "configs/container.yaml", "--output", "json", "--set", "train.epochs=1",
                                       env=env)
    assert first.code == 0, first.stderr[-2000:]
    task = container_project.root / "train/digits/task.py"
    task.write_text(task.read_text().replace('print(f"epoch {epoch:3d}', 'print(f"edited: epoch {epoch:3d}'))
    second = container_project.smlaunch("run", "configs/container.yaml", "--output", "json", "--set",
                                        "train.epochs=1", env=env)
    assert second.code == 0, second.stderr[-2000:]
    assert "algo-1 | edited: epoch   1" in second.stderr and "edited:" not in first.stderr  # the new code ran
    client = MlflowClient(tracking_uri=container_project.tracking_uri)
    a, b = (client.get_run(result.json()["run_id"]).data.tags for result in (first, second))
    assert a["launcher.code_sha256"] != b["launcher.code_sha256"]
    assert a["launcher.image_id"] == b["launcher.image_id"]  # the same image, not rebuilt


def test_preflight_refuses_an_image_built_from_other_dependencies(container_project: Project,
                                                                  docker_env: dict[str, str], tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {container_project_image(container_project)}\nLABEL dev.smlaunch.deps-sha256=0123456789abcdef\n")
    built = subprocess.run(["docker", "build", "--network", "host", "-t", "smlaunch-train:stale", str(tmp_path)],
                           env=docker_env, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    result = container_project.smlaunch("run", "configs/container.yaml", "--set",
                                        "sagemaker.image=smlaunch-train:stale",
                                        env={"DOCKER_HOST": docker_env.get("DOCKER_HOST")})
    assert result.code == 3, result.stderr
    assert "FAIL image dependencies: the image was built from other dependencies (0123456789abcdef)" in result.stderr
    assert "make build" in result.stderr
    assert container_project.runs() == []


def container_project_image(project: Project) -> str:
    text = (project.root / "configs/container.yaml").read_text()
    return text.split("image: ", 1)[1].split()[0]
