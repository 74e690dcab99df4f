"""Bad input creates nothing; a crashing task leaves a FAILED run, a failure file and a non-zero exit."""

from __future__ import annotations

import re

from tests.conftest import Project


def test_wrong_type_is_exit_2_with_file_line_field_and_no_run(project: Project) -> None:
    text = project.config.read_text().replace("instance_count: 1", "instance_count: two")
    project.config.write_text(text)
    line = text.splitlines().index("  instance_count: two") + 1
    result = project.smlaunch("run", "configs/local.yaml")
    assert result.code == 2
    assert f"configs/local.yaml:{line}:19: sagemaker.instance_count: 'two' is not an integer" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.runs() == []


def test_unknown_key_is_exit_2_with_suggestion_and_no_run(project: Project) -> None:
    text = project.config.read_text().replace("instance_type: local", "instance_tpye: local")
    project.config.write_text(text)
    result = project.smlaunch("run", "configs/local.yaml")
    assert result.code == 2
    assert re.search(r"configs/local\.yaml:\d+:3: sagemaker\.instance_tpye: unknown key 'instance_tpye' — "
                     r"did you mean 'instance_type'\?", result.stderr), result.stderr
    assert project.runs() == []


def test_error_in_training_config_points_into_that_file(project: Project) -> None:
    path = project.root / "configs/train/digits.yaml"
    path.write_text(path.read_text().replace("lr: 0.003", "lr: fast"))
    result = project.smlaunch("run", "configs/local.yaml", "--set", "train.epochs=zero")
    assert result.code == 2
    assert re.search(r"configs/train/digits\.yaml:\d+:7: train\.optimizer\.lr: 'fast' is not a number",
                     result.stderr), result.stderr
    assert "--set train.epochs=zero: train.epochs: 'zero' is not an integer" in result.stderr
    assert project.runs() == []


def test_injected_training_crash_fails_the_run(project: Project) -> None:
    project.write("plugins/crashing_task.py", (
        "def run(ctx):\n"
        "    ctx.tracker.log_metrics({'train_loss': 1.5}, step=1)\n"
        "    raise RuntimeError('injected crash at epoch 1')\n"
    ))
    result = project.smlaunch(
        "run", "configs/local.yaml", "--output", "json",
        "--set", "train.task=crashing_task:run", "--set", f"environment.PYTHONPATH={project.root / 'plugins'}",
    )
    assert result.code == 1
    report = result.json()
    assert report["status"] == "FAILED"
    failure = project.root / ".smlaunch/jobs" / report["job_name"] / "algo-1/output/failure"
    assert failure.read_text().startswith("RuntimeError: injected crash at epoch 1")
    (run,) = project.runs()
    assert run.info.run_id == report["run_id"]
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"train_loss": 1.5}  # what was measured before the crash is kept
    assert run.data.tags["launcher.failure_reason"].startswith("RuntimeError: injected crash")
    assert "injected crash at epoch 1" in report["failure_reason"]
