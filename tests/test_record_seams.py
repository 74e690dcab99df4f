"""The record stays true where a process ends without the launcher's help: a killed launcher, a task that leaves
by `os._exit` or is killed, a flaky tracker, a stop from another terminal, a checkpoint another run left. Each
fault is caused for real and the run's final state, its points against the job's journal, the model and the
processes left are asserted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, processes_in
from tests.faults import DROP, FORWARD, Action, FaultProxy, Request, status

STEPPING_TASK = """
import os, signal, sys, time

def run(ctx):
    for step in range(1, 1001):
        ctx.tracker.log_metrics({"loss": 1.0 / step}, step=step)
        if {loud}:
            print(f"step {step}", flush=True)
        if step == {stop_at}:
            {ending}
        time.sleep(0.02)
"""


def write_task(project: Project, ending: str = "pass", stop_at: int = 0, loud: bool = True) -> list[str]:
    return project.task("stepping", STEPPING_TASK.replace("{ending}", ending).replace(
        "{stop_at}", str(stop_at)).replace("{loud}", str(loud)))


def start(project: Project, *args: str) -> subprocess.Popen[bytes]:
    """`smlaunch run` in its own session (so killing it kills nothing else), its output in a file."""
    log = (project.root / "launch.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "launcher", "run", "configs/local.yaml", *args], cwd=project.root,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def journal_points(project: Project) -> list[list[Any]]:
    journals = list((project.root / ".smlaunch/jobs").glob("*/algo-1/output/data/smlaunch/metrics.jsonl"))
    assert len(journals) == 1
    return [json.loads(line) for line in journals[0].read_text().splitlines()]


def only_run(project: Project) -> Any:
    (run,) = project.runs()
    return run


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def logged_steps(project: Project, run_id: str, metric: str = "loss") -> list[int]:
    from mlflow import MlflowClient

    return [m.step for m in MlflowClient(project.tracking_uri).get_metric_history(run_id, metric)]


def running_host(project: Project) -> bool:
    return bool(list((project.root / ".smlaunch/jobs").glob("*/algo-1/output/data/smlaunch/metrics.jsonl")))


@pytest.mark.parametrize("loud", [True, False], ids=["a host that prints", "a quiet host"])
def test_a_killed_launcher_takes_its_hosts_along_and_the_run_says_why(project: Project, loud: bool) -> None:
    launcher = start(project, *write_task(project, loud=loud))
    wait_for(lambda: running_host(project) and len(journal_points(project)) >= 20, 120, "the task to log")
    os.kill(launcher.pid, signal.SIGKILL)  # the launcher only: OOM, a closed laptop lid
    launcher.wait()
    wait_for(lambda: only_run(project).info.status != "RUNNING", 30, "the host to end the run")
    wait_for(lambda: processes_in(project.root) == [], 30, "the host to go")
    run = only_run(project)
    assert run.info.status == "KILLED"
    reason = run.data.tags["launcher.failure_reason"]
    assert "the launcher died" in reason and "BrokenPipe" not in reason
    points = journal_points(project)
    assert logged_steps(project, run.info.run_id) == [step for _, _, _, step in points]


def test_a_launcher_and_host_killed_together_are_settled_by_the_next_look(project: Project) -> None:
    launcher = start(project, *write_task(project, loud=False))
    wait_for(lambda: running_host(project) and len(journal_points(project)) >= 10, 120, "the task to log")
    for pid in [launcher.pid, *processes_in(project.root)]:
        os.killpg(pid, signal.SIGKILL)  # launcher and host at once: nobody is left to end the run
    launcher.wait()
    wait_for(lambda: processes_in(project.root) == [], 30, "the processes to go")
    run = only_run(project)
    assert run.info.status == "RUNNING"
    shown = project.smlaunch("status", run.info.run_id, "--tracking-uri", project.tracking_uri, "--output", "json")
    assert shown.code == 0, shown.stderr
    assert shown.json()["run_status"] == "KILLED"
    run = only_run(project)
    points = journal_points(project)
    assert logged_steps(project, run.info.run_id) == [step for _, _, _, step in points]  # every journaled point
    assert f"last step logged: {points[-1][3]}" in run.data.tags["launcher.failure_reason"]
    assert "the launcher died" in run.data.tags["launcher.failure_reason"]


def test_list_and_the_next_run_settle_a_dead_launchers_run(project: Project) -> None:
    launcher = start(project, *write_task(project, loud=False))
    wait_for(lambda: running_host(project) and len(journal_points(project)) >= 5, 120, "the task to log")
    for pid in [launcher.pid, *processes_in(project.root)]:
        os.killpg(pid, signal.SIGKILL)
    launcher.wait()
    wait_for(lambda: processes_in(project.root) == [], 30, "the processes to go")
    listed = project.smlaunch("list", "--tracking-uri", project.tracking_uri, "--output", "json")
    assert listed.code == 0, listed.stderr
    assert [run["status"] for run in listed.json()] == ["KILLED"]


def test_a_task_that_leaves_by_os_exit_is_failed_with_every_point_it_logged(project: Project) -> None:
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json",
                              *write_task(project, "os._exit(0)", stop_at=50))
    assert result.code == 1, result.stderr[-2000:]
    report = result.json()
    run = only_run(project)
    assert run.info.status == "FAILED"
    reason = run.data.tags["launcher.failure_reason"]
    assert "the task did not return" in reason and "exit code 0" in reason and "last step logged: 50" in reason
    assert logged_steps(project, run.info.run_id) == list(range(1, 51))
    assert report["model_artifact"] is None
    assert not list((project.root / "outputs").rglob("model.tar.gz"))


def test_a_killed_training_process_is_failed_with_every_point_it_logged(project: Project) -> None:
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json",
                              *write_task(project, "os.kill(os.getpid(), signal.SIGKILL)", stop_at=30))
    assert result.code == 1, result.stderr[-2000:]
    run = only_run(project)
    assert run.info.status == "FAILED"
    assert "SIGKILL" in run.data.tags["launcher.failure_reason"]
    assert "last step logged: 30" in run.data.tags["launcher.failure_reason"]
    assert logged_steps(project, run.info.run_id) == list(range(1, 31))


def test_smlaunch_stop_ends_a_local_job_and_its_run(project: Project) -> None:
    launcher = start(project, *write_task(project))
    wait_for(lambda: running_host(project) and len(journal_points(project)) >= 10, 120, "the task to log")
    run_id = only_run(project).info.run_id
    stopped = project.smlaunch("stop", run_id, "--tracking-uri", project.tracking_uri, "--output", "json")
    assert stopped.code == 0, stopped.stderr
    launcher.wait(timeout=60)
    assert launcher.returncode == 1
    run = only_run(project)
    assert run.info.status == "KILLED" and "stopped with smlaunch stop" in run.data.tags["launcher.failure_reason"]
    assert logged_steps(project, run_id) == [step for _, _, _, step in journal_points(project)]
    assert processes_in(project.root) == []
    again = project.smlaunch("stop", run_id, "--tracking-uri", project.tracking_uri)
    assert again.code == 1 and "is not running" in again.stderr


class Flaky:
    """A third of the tracker's requests fail: every 3rd dropped, every 3rd+1 answered 500 (after the first 10)."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, request: Request) -> Action:
        self.seen += 1
        if self.seen > 10 and self.seen % 6 == 0:
            return DROP
        if self.seen > 10 and self.seen % 6 == 3:
            return status(500, b'{"error_code": "INTERNAL_ERROR", "message": "flaky"}')
        return FORWARD


@pytest.mark.timeout(600)
def test_a_flaky_tracker_gets_every_point_and_the_model(project: Project, mlflow_url: str) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus

    with FaultProxy(mlflow_url, Flaky()) as proxy:
        result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=5",
                                  "--set", f"tracking.uri={proxy.url}", timeout=500)
        kinds = {kind for _, _, _, kind in proxy.log}
    assert {"drop", "status"} <= kinds
    report = result.json()
    client = MlflowClient(mlflow_url)
    run = client.get_run(report["run_id"])
    models = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    assert [model.status for model in models if model.status != LoggedModelStatus.READY] == []  # no debris
    if run.info.status == "FINISHED":
        assert result.code == 0 and [m.name for m in models] == ["model"]
    else:  # the model never got through: the run says so and is not FINISHED
        assert run.data.tags["launcher.model_pending"] == "model" and "not recorded" in \
            run.data.tags["mlflow.note.content"].lower()
    for metric in ("train_loss", "val_loss", "val_accuracy"):
        assert [m.step for m in client.get_metric_history(report["run_id"], metric)] == [1, 2, 3, 4, 5]


CHECKPOINTING_TASK = """
from pathlib import Path
from train.runtime.checkpoints import Checkpoints

def run(ctx):
    checkpoints = Checkpoints(Path("{place}"))  # a fixed place, shared by every run
    restored = checkpoints.restore()
    first = restored[0] + 1 if restored else 1
    for step in range(first, 6):
        ctx.tracker.log_metrics({"loss": 1.0 / step}, step=step)
        checkpoints.save(step, {"step": step})
"""


def test_a_checkpoint_another_run_left_is_never_resumed_from(project: Project, tmp_path: Path) -> None:
    place = tmp_path / "shared-checkpoints"
    args = ["--output", "json", *project.task("checkpointing", CHECKPOINTING_TASK.replace("{place}", str(place)))]
    first = project.smlaunch("run", "configs/local.yaml", *args)
    second = project.smlaunch("run", "configs/local.yaml", *args)
    assert first.code == 0 and second.code == 0, second.stderr[-2000:]
    for report in (first.json(), second.json()):
        assert logged_steps(project, report["run_id"]) == [1, 2, 3, 4, 5]  # the second trained; it did not resume
    assert "holds a checkpoint of run " + first.json()["run_id"] in second.stderr
    assert json.loads((place / "smlaunch-checkpoint.json").read_text())["run_id"] == second.json()["run_id"]
