"""Bad input creates nothing; a crashing task leaves a FAILED run, a failure file and a non-zero exit."""

from __future__ import annotations

import re

from launcher.tracking.fingerprint import fingerprint_local
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
    crashing = project.task("crashing_task", "def run(ctx):\n"
                                             "    ctx.tracker.log_metrics({'train_loss': 1.5}, step=1)\n"
                                             "    raise RuntimeError('injected crash at epoch 1')\n")
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *crashing)
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


def test_a_value_that_is_no_number_fails_that_call_and_loses_no_other_point(project: Project) -> None:
    task = (
        "def run(ctx):\n"
        "    for step in range(1, 101):\n"
        "        ctx.tracker.log_metrics({'loss': 1.0 / step}, step=step)\n"
        "    try:\n"
        "        ctx.tracker.log_metrics({'loss': 0.5, 'acc': 'high'}, step=101)\n"
        "    except ValueError as error:\n"
        "        print(f'refused: {error}')\n"
    )
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("names", task))
    assert result.code == 0, result.stderr[-2000:]
    assert "refused: metric 'acc' must be a number, not 'high'" in result.stderr
    from mlflow import MlflowClient

    history = MlflowClient(tracking_uri=project.tracking_uri).get_metric_history(result.json()["run_id"], "loss")
    assert [point.step for point in history] == list(range(1, 101))


def test_an_exception_with_a_surrogate_still_fails_the_run_with_its_reason(project: Project) -> None:
    task = "def run(ctx):\n    raise RuntimeError('bad byte: \\udcff here')\n"
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("surrogate", task))
    assert result.code == 1
    report = result.json()
    failure = project.root / ".smlaunch/jobs" / report["job_name"] / "algo-1/output/failure"
    assert failure.read_text().startswith("RuntimeError: bad byte: \\udcff here")
    (run,) = project.runs()
    assert run.info.status == "FAILED"
    assert run.data.tags["launcher.failure_reason"].startswith("RuntimeError: bad byte")


def test_undecodable_output_neither_stops_the_log_nor_hangs_the_job(project: Project) -> None:
    task = ("import sys\n"
            "def run(ctx):\n"
            "    sys.stdout.buffer.write(b'before \\xff\\xfe after\\n')\n"
            "    sys.stdout.flush()\n"
            "    for i in range(2000):\n"
            "        print('line', i)\n")
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("noisy", task),
                              timeout=120)
    assert result.code == 0, result.stderr[-2000:]
    assert "algo-1 | before \ufffd\ufffd after" in result.stderr
    assert "algo-1 | line 1999" in result.stderr


def test_a_task_writing_into_its_channel_never_touches_the_users_data(project: Project) -> None:
    task = ("def run(ctx):\n"
            "    path = ctx.paths.channel_dir('training') / 'train.npz'\n"
            "    path.write_bytes(b'overwritten by the task')\n")
    before = (project.root / "data/digits/train.npz").read_bytes()
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("vandal", task))
    assert result.code == 0, result.stderr[-2000:]
    assert (project.root / "data/digits/train.npz").read_bytes() == before
    (run,) = project.runs()
    after = fingerprint_local("training", project.root / "data/digits")
    assert after.method == "content" and run.inputs.dataset_inputs[0].dataset.digest == after.digest


def test_three_parallel_first_launches_on_a_fresh_store_all_finish(project: Project) -> None:
    import subprocess
    import sys

    idle = project.task("idle")  # the subject is the store's first use, not training
    launches = [subprocess.Popen([sys.executable, "-m", "launcher", "run", "configs/local.yaml", *idle, "--set",
                                  f"local.work_dir=.smlaunch/jobs-{n}"],
                                 cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(3)]
    outputs = [launch.communicate(timeout=300) for launch in launches]
    assert [launch.returncode for launch in launches] == [0, 0, 0], [err[-1500:] for _, err in outputs]
    assert all("Traceback" not in err for _, err in outputs)
    runs = project.runs()
    assert len(runs) == 3 and {run.info.status for run in runs} == {"FINISHED"}
    later = project.smlaunch("run", "configs/local.yaml", *idle)
    assert later.code == 0, later.stderr[-1500:]  # the store is usable afterwards


def test_old_job_trees_are_pruned(project: Project) -> None:
    idle = project.task("idle")
    for _ in range(3):
        assert project.smlaunch("run", "configs/local.yaml", *idle, "--set", "local.keep_jobs=2").code == 0
    jobs = sorted(path.name for path in (project.root / ".smlaunch/jobs").iterdir())
    newest = sorted(project.runs(), key=lambda run: run.info.start_time)[-2:]
    assert jobs == sorted(run.data.tags["launcher.job_name"] for run in newest)


def test_staged_configs_are_private(project: Project) -> None:
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("idle"))
    assert result.code == 0
    staged = project.root / ".smlaunch/jobs" / result.json()["job_name"] / "config"
    modes = {path.relative_to(staged).as_posix(): path.stat().st_mode & 0o777
             for path in staged.rglob("*") if path.is_file()}
    assert modes and set(modes.values()) == {0o600}, modes


def test_a_full_disk_while_packing_leaves_no_truncated_model_and_fails_cleanly(project: Project) -> None:
    import os
    import subprocess

    if os.geteuid() != 0:
        import pytest

        pytest.skip("mounting a small tmpfs (to fill a disk for real) needs root")
    full = project.root / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], check=True)
    try:
        result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=1",
                                  "--set", f"sagemaker.output_path={full}")
        leftovers = [path.name for path in full.rglob("*") if path.is_file()]
    finally:
        subprocess.run(["umount", str(full)], check=True)
    assert result.code == 1
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert leftovers == []  # neither a truncated model.tar.gz nor a partial file
    (run,) = project.runs()
    assert run.info.status == "FAILED"
    assert "No space left on device" in run.data.tags["launcher.failure_reason"]


def test_a_corrupt_store_is_one_clear_line(project: Project) -> None:
    project.db.write_bytes(b"this is not a database" * 100)
    for command in (["status", "0" * 32], ["diff", "0" * 32, "1" * 32]):
        result = project.smlaunch(*command, "--tracking-uri", project.tracking_uri)
        assert result.code == 1
        assert result.stderr.startswith("error: MLflow at sqlite:///") and "Traceback" not in result.stderr
    launched = project.smlaunch("run", "configs/local.yaml")
    assert launched.code == 1 and "Traceback" not in launched.stderr
    assert launched.stderr.strip().splitlines()[-1].startswith("error: MLflow at sqlite:///")
