"""Signals end the run KILLED with a reason, leave no process behind, and give the conventional exit code:
to the launcher (SIGTERM, SIGHUP, its whole process group) and to the training process itself (SageMaker's
way of stopping a job), and to a container with no launcher watching at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Project, processes_in

SLEEPY_TASK = (
    "import subprocess, time\n"
    "def run(ctx):\n"
    "    ctx.tracker.log_metrics({'started': 1.0}, step=1)\n"
    "    subprocess.Popen(['sleep', '600'], cwd=ctx.paths.base)  # a helper the task starts\n"
    "    print('sleeping', flush=True)\n"
    "    time.sleep(600)\n"
)


def start_sleepy(project: Project, new_session: bool = False) -> subprocess.Popen[str]:
    launcher = subprocess.Popen(
        [sys.executable, "-m", "launcher", "run", "configs/local.yaml", "--output", "json",
         *project.task("sleepy", SLEEPY_TASK)],
        cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=new_session)
    assert launcher.stderr is not None
    for line in launcher.stderr:  # bounded: the task prints this within seconds
        if "algo-1 | sleeping" in line:
            return launcher
    raise AssertionError(f"the task never started: {launcher.communicate(timeout=30)}")


def the_run(project: Project) -> object:
    (run,) = project.runs()
    return run


@pytest.mark.parametrize(("signum", "to_group", "code", "reason"), [
    (signal.SIGTERM, False, 143, "stopped by SIGTERM"),
    (signal.SIGTERM, True, 143, "stopped by SIGTERM"),
    (signal.SIGHUP, False, 129, "stopped by SIGHUP"),
    (signal.SIGHUP, True, 129, "stopped by SIGHUP"),
], ids=["SIGTERM", "SIGTERM to the group", "SIGHUP", "SIGHUP to the group"])
def test_a_signal_to_the_launcher_stops_everything_and_kills_the_run(project: Project, signum: int, to_group: bool,
                                                                     code: int, reason: str) -> None:
    launcher = start_sleepy(project, new_session=to_group)
    if to_group:
        os.killpg(launcher.pid, signum)
    else:
        launcher.send_signal(signum)
    stdout, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == code, stderr
    assert json.loads(stdout) == {"error": reason, "exit_code": code}
    assert "Traceback" not in stderr
    run = the_run(project)
    assert run.info.status == "KILLED"
    assert run.data.tags["launcher.failure_reason"].startswith(reason)
    assert run.data.metrics == {"started": 1.0}  # flushed before the container ended
    assert processes_in(project.root) == []  # the host and the helper it started are gone


def test_sigterm_to_the_training_process_stops_the_job_like_sagemaker_does(project: Project) -> None:
    launcher = start_sleepy(project)
    (host,) = [pid for pid in processes_in(project.root)
               if Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"-m\0train\0")]  # python -m train
    os.kill(host, signal.SIGTERM)
    stdout, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 1, stderr
    report = json.loads(stdout)
    assert report["status"] == "KILLED" and report["job_status"] == "Stopped"
    run = the_run(project)
    assert run.info.status == "KILLED"
    assert run.data.tags["launcher.failure_reason"].startswith("Terminated: the job received SIGTERM")
    tree = project.root / ".smlaunch/jobs" / report["job_name"] / "algo-1"
    assert (tree / "output/failure").read_text().startswith("Terminated: the job received SIGTERM")
    assert processes_in(project.root) == []


def container_alone(project: Project, training_yaml: str) -> tuple[subprocess.Popen[str], Path, str]:
    """`python -m train` on a hand-made tree with a run made by MLflow's client: no launcher anywhere."""
    from mlflow import MlflowClient

    from launcher.executors.tree import lay_out_host

    client = MlflowClient(tracking_uri=project.tracking_uri)
    run = client.create_run(client.create_experiment("alone"))
    staged = project.root / "staged"
    staged.mkdir()
    (staged / "training.yaml").write_text(training_yaml)
    request = {"TrainingJobName": "alone-1", "HyperParameters": {},
               "InputDataConfig": [{"ChannelName": "config", "DataSource": {"S3DataSource": {
                   "S3Uri": staged.as_uri()}}}],
               "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}}
    tree = lay_out_host(request, project.root / "tree", "algo-1")
    env = {"PATH": os.environ["PATH"], "SAGEMAKER_BASE_DIR": str(tree.base), "PYTHONPATH": str(project.root),
           "MLFLOW_TRACKING_URI": project.tracking_uri, "MLFLOW_RUN_ID": run.info.run_id}
    process = subprocess.Popen([sys.executable, "-m", "train"], env=env, cwd=tree.base, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return process, tree.base, run.info.run_id


def test_a_container_whose_config_is_broken_fails_its_run_itself(project: Project) -> None:
    from mlflow import MlflowClient

    process, base, run_id = container_alone(project, "task: [never closed\n")
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1, output
    run = MlflowClient(tracking_uri=project.tracking_uri).get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["launcher.failure_reason"].startswith(("ParserError", "ScannerError"))
    assert (base / "output/failure").read_text().startswith(("ParserError", "ScannerError"))


def test_a_container_told_to_stop_kills_its_run_itself(project: Project) -> None:
    from mlflow import MlflowClient

    project.write("sleepy.py", SLEEPY_TASK.replace("    subprocess.Popen(", "    # no helper here: "))
    process, base, run_id = container_alone(project, "task: sleepy:run\n")
    assert process.stdout is not None
    for line in process.stdout:
        if "sleeping" in line:
            break
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    process.communicate(timeout=120)
    assert time.monotonic() - started < 30  # well inside SageMaker's 120 s grace
    assert process.returncode == 143
    run = MlflowClient(tracking_uri=project.tracking_uri).get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["launcher.failure_reason"].startswith("Terminated: the job received SIGTERM")
    assert run.data.metrics == {"started": 1.0}
    assert (base / "output/failure").read_text().startswith("Terminated")


HELD_WHILE_A_HELPER_RUNS = """
import os, signal, threading, time
from train.runtime import stops

taken = []
signal.signal(signal.SIGTERM, lambda signum, frame: taken.append(time.monotonic()))
stops.start_helper(threading.Thread(target=time.sleep, args=(5,), daemon=True))  # as the job's watcher
with stops.held():  # as while the run is resumed (mlflow imported)
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # bytecode runs: a handler let through would run here
        sum(range(1000))
    released = time.monotonic()
print("taken after the hold" if taken and taken[0] >= released else f"taken during the hold: {taken}")
"""


def test_a_stop_during_the_resume_waits_for_it_even_with_helper_threads_running() -> None:
    """A helper thread that took the signal would run the handler in the main thread at once, hold or not: a
    stop in the middle of importing mlflow left it half-imported, the job could not end its run, and the
    stop took 16 s instead of 2."""
    done = subprocess.run([sys.executable, "-c", HELD_WHILE_A_HELPER_RUNS], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == "taken after the hold", done.stdout + done.stderr
