"""Local runs beyond the happy single host: several hosts, MaxRuntimeInSeconds, Ctrl-C, FastFile channels."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.conftest import Project, processes_in

SLEEPY_TASK = (
    "import time\n"
    "def run(ctx):\n"
    "    ctx.tracker.log_metrics({'started': 1.0}, step=1)\n"
    "    print('sleeping', flush=True)\n"
    "    time.sleep(600)\n"
)


def test_two_hosts_both_train_and_one_run_records_each_step_once(project: Project) -> None:
    from mlflow import MlflowClient

    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "sagemaker.instance_count=2",
                              "--set", "train.epochs=2")
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    assert report["status"] == "FINISHED"
    assert "algo-1 | epoch   2" in result.stderr and "algo-2 | epoch   2" in result.stderr
    history = MlflowClient(tracking_uri=project.tracking_uri).get_metric_history(report["run_id"], "val_loss")
    assert [point.step for point in history] == [1, 2]  # algo-2 trains but does not write to the run
    job_dir = project.root / ".smlaunch/jobs" / report["job_name"]
    for host in ("algo-1", "algo-2"):
        config = json.loads((job_dir / host / "input/config/resourceconfig.json").read_text())
        assert config["current_host"] == host and config["hosts"] == ["algo-1", "algo-2"]
        assert (job_dir / host / "model/model/MLmodel").is_file()


def test_max_runtime_exceeded_stops_the_job_and_fails_the_run(project: Project) -> None:
    started = time.monotonic()
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json",
                              "--set", "sagemaker.max_runtime_seconds=8", *project.task("sleepy", SLEEPY_TASK))
    assert time.monotonic() - started < 120
    assert result.code == 1, result.stderr[-2000:]
    report = result.json()
    assert report["status"] == "FAILED"
    assert report["failure_reason"].startswith("MaxRuntimeExceeded: the job ran longer than 8 s")
    (run,) = project.runs()
    assert run.info.status == "FAILED"
    assert run.data.tags["launcher.failure_reason"].startswith("MaxRuntimeExceeded")
    assert run.data.metrics == {"started": 1.0}


def test_ctrl_c_stops_the_hosts_and_ends_the_run_killed(project: Project) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-m", "launcher", "run", "configs/local.yaml", "--output", "json",
         *project.task("sleepy", SLEEPY_TASK)],
        cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert launcher.stderr is not None
    for line in launcher.stderr:  # bounded: the task prints this within seconds, then sleeps
        if "algo-1 | sleeping" in line:
            break
    launcher.send_signal(signal.SIGINT)
    stdout, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, stderr
    assert "stopped by the user (Ctrl-C)" in stderr and "Traceback" not in stderr
    assert json.loads(stdout) == {"error": "stopped by the user (Ctrl-C)", "exit_code": 130}
    (run,) = project.runs()
    assert run.info.status == "KILLED"
    assert run.data.tags["launcher.failure_reason"].startswith("stopped by the user (Ctrl-C)")
    assert processes_in(project.root) == []  # no host (each runs in its tree under the project) is left


def test_fastfile_channels_are_files_locally(project: Project) -> None:
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=1",
                              "--set", "channels.training.input_mode=FastFile")
    assert result.code == 0, result.stderr[-2000:]
    report = result.json()
    tree = project.root / ".smlaunch/jobs" / report["job_name"] / "algo-1"
    channels = json.loads((tree / "input/config/inputdataconfig.json").read_text())
    assert channels["training"]["TrainingInputMode"] == "FastFile"
    assert sorted(p.name for p in (tree / "input/data/training").iterdir()) == ["train.npz", "validation.npz"]
    assert report["status"] == "FINISHED"


def test_the_first_host_to_fail_stops_the_others_and_names_itself(project: Project) -> None:
    task = ("import time\n"
            "def run(ctx):\n"
            "    if ctx.env.current_host == 'algo-2':\n"
            "        raise RuntimeError('algo-2 cannot start')\n"
            "    time.sleep(600)  # algo-1 would wait for algo-2 forever\n")
    started = time.monotonic()
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "sagemaker.instance_count=2",
                              *project.task("half", task))
    assert time.monotonic() - started < 60
    assert result.code == 1
    report = result.json()
    assert report["status"] == "FAILED"
    assert report["failure_reason"].startswith("algo-2: RuntimeError: algo-2 cannot start")
    assert "could not end the run" not in result.stderr  # algo-1, stopped while resuming, ended it after
    (run,) = project.runs()
    assert run.info.status == "FAILED"  # not KILLED, although algo-1 was stopped: algo-2's failure is the truth
    assert processes_in(project.root) == []
