"""Sweeps: a parent run with a child run per trial, locally and on SageMaker (moto), validated before anything
starts, stopped cleanly by Ctrl-C, resumed, and the tuner's trials recording under the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from launcher.core.errors import ConfigError
from launcher.sweep.search import BayesianSearch
from launcher.sweep.spec import load_sweep
from launcher.sweep.trials import TrialResult
from tests.conftest import Project, processes_in

GRID = """\
config: ../local.yaml
set: [train.epochs=3]
strategy: grid
max_parallel: 2
objective: {metric: val_accuracy}
parameters:
  train.optimizer.lr: {values: [0.001, 0.01]}
  train.model.hidden_sizes: {values: [[32], [64, 32]]}
"""


HELD_TASK = """
import time
from pathlib import Path

def run(ctx):
    # logs epoch 1, waits while the test holds it (the file HOLD exists), then logs its last epoch
    epochs, lr = ctx.config["epochs"], ctx.config["optimizer"]["lr"]
    for epoch in sorted({1, epochs}):
        ctx.tracker.log_metrics({"val_accuracy": epoch / epochs, "val_loss": lr * epoch}, step=epoch)
        print(f"epoch {epoch}", flush=True)
        while epoch < epochs and Path(HOLD).exists():
            time.sleep(0.1)
"""


def held_trials(project: Project) -> tuple[Path, str]:
    """A task whose trials wait after their first epoch while the returned file exists (the test holds them
    running for as long as it needs, and lets them finish at once); and the sweep's `set:` line that runs it.
    The subject of these tests is the sweep's processes and record, not training."""
    hold = project.root / "hold"
    args = project.task("held", HELD_TASK.replace("HOLD", repr(str(hold))))
    return hold, f"set: [{args[1]}, {args[3]}]\n"


def start_sweep(project: Project, sweep_file: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`smlaunch sweep` in its own session, its output in a file (a pipe nobody reads would fill and block it)."""
    log = project.root / "sweep.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "launcher", "sweep", sweep_file], cwd=project.root,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def runs_by_parent(project: Project) -> tuple[Any, list[Any]]:
    runs = project.runs()
    (parent,) = [run for run in runs if run.data.tags.get("launcher.sweep") == "parent"]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return parent, sorted(children, key=lambda run: int(run.data.tags["launcher.sweep.trial"]))


def test_a_local_grid_sweep_nests_one_finished_child_per_trial(project: Project) -> None:
    project.write("configs/sweeps/grid.yaml", GRID)
    result = project.smlaunch("sweep", "configs/sweeps/grid.yaml", "--output", "json")
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    parent, children = runs_by_parent(project)
    assert parent.info.run_id == report["parent_run_id"] and parent.info.status == "FINISHED"
    assert [run.info.status for run in children] == ["FINISHED"] * 4
    swept = {"train.optimizer.lr", "train.model.hidden_sizes"}
    first = children[0].data.params
    for child in children[1:]:  # the same config but for the swept keys
        differing = {key for key in first.keys() | child.data.params.keys()
                     if first.get(key) != child.data.params.get(key)}
        assert differing and differing <= swept
    assert {(c.data.params["train.optimizer.lr"], c.data.params["train.model.hidden_sizes"]) for c in children} == \
        {("0.001", "[32]"), ("0.001", "[64, 32]"), ("0.01", "[32]"), ("0.01", "[64, 32]")}
    best = max(children, key=lambda run: run.data.metrics["val_accuracy"])
    assert parent.data.tags["launcher.sweep.best_run_id"] == best.info.run_id == report["best"]["run_id"]
    assert parent.data.tags["launcher.sweep.best.train.optimizer.lr"] == best.data.params["train.optimizer.lr"]
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(best.data.metrics["val_accuracy"])
    assert parent.data.metrics["trials_finished"] == 4
    assert parent.data.params["sweep.space.train.optimizer.lr"] == "[0.001, 0.01]"
    note = parent.data.tags["mlflow.note.content"]
    assert f"smlaunch reproduce {best.info.run_id}" in note and "smlaunch run configs/local.yaml" in note
    from mlflow import MlflowClient

    artifacts = {a.path for a in MlflowClient(project.tracking_uri).list_artifacts(parent.info.run_id, "sweep")}
    assert artifacts == {"sweep/grid.yaml", "sweep/trials.json", "sweep/trials.csv", "sweep/objective.png"}
    assert "trial 3 | algo-1 | epoch" in result.stderr  # each trial's output, prefixed


@pytest.mark.parametrize(("parameters", "line", "says"), [
    ("  train.optimizer.lr: {values: [0.001, -0.5]}\n", 6, "-0.5 (trial 2) is refused by the config: "
                                                           "train.optimizer.lr"),
    ("  train.batch_sise: {values: [32]}\n", 6, "did you mean 'batch_size'"),
    ("  train.optimizer.lr: {min: 0.0, max: 0.1, scale: log, steps: 3}\n", 6, "a log range needs min above 0"),
    ("  train.optimizer.lr: {min: 0.001, max: 0.1}\n", 6, "a grid over a range needs `steps`"),
    ("  tracking.uri: {values: [sqlite:///a.db, sqlite:///b.db]}\n", 6, "a sweep cannot vary tracking"),
], ids=["value refused by the schema", "unknown config key", "log range from 0", "grid without steps",
        "fixed key"])
def test_a_bad_trial_is_refused_at_its_line_before_anything_starts(project: Project, parameters: str, line: int,
                                                                   says: str) -> None:
    text = GRID.split("parameters:")[0].replace("max_parallel: 2\n", "") + "parameters:\n" + parameters
    project.write("configs/sweeps/bad.yaml", text)
    with pytest.raises(ConfigError) as refused:
        load_sweep(project.root / "configs/sweeps/bad.yaml", cwd=project.root)
    assert any(f"bad.yaml:{line}:" in problem.where and says in str(problem) for problem in refused.value.problems), \
        str(refused.value)


def test_a_bad_value_in_a_random_range_is_refused_by_the_cli_creating_nothing(project: Project) -> None:
    random_sweep = GRID.split("strategy")[0] + """\
strategy: random
max_trials: 20
objective: {metric: val_accuracy}
parameters:
  train.batch_size: {min: 0, max: 64, type: int}
"""
    project.write("configs/sweeps/bad.yaml", random_sweep.replace("objective:", "objeective:"))
    result = project.smlaunch("sweep", "configs/sweeps/bad.yaml")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "bad.yaml:5:1: objeective: unknown key 'objeective' — did you mean 'objective'?" in result.stderr
    project.write("configs/sweeps/bad.yaml", random_sweep)
    result = project.smlaunch("sweep", "configs/sweeps/bad.yaml")
    assert result.code == 2, result.stderr
    assert "bad.yaml:7:" in result.stderr and "parameters.train.batch_size.min: 0 (" in result.stderr
    assert "train.batch_size: 0 is less than the minimum of 1" in result.stderr
    assert project.runs() == [] and not (project.root / ".smlaunch").exists()


def test_max_failures_stops_the_sweep_and_fails_the_parent(project: Project) -> None:
    """A trial that fails (here its data file is missing: pre-flight refuses it, no run) counts; at
    max_failures no further trial starts and the parent ends FAILED with the reason."""
    project.write("configs/sweeps/base.yaml", GRID.replace("max_parallel: 2", "max_parallel: 1"))
    project.write("configs/sweeps/fails.yaml", """\
extends: base.yaml
max_failures: 1
parameters:
  train.data.train_file: {values: [missing.npz, train.npz]}
""")
    result = project.smlaunch("sweep", "configs/sweeps/fails.yaml", "--output", "json")
    assert result.code == 1, result.stderr[-3000:]
    report = result.json()
    assert report["status"] == "FAILED"
    assert report["failure_reason"] == "stopped after 1 failed trials (max_failures: 1)"
    assert [(t["trial"], t["status"]) for t in report["trials"]] == [(1, "FAILED")]
    assert "missing.npz" in report["trials"][0]["failure_reason"]
    parent, children = runs_by_parent(project)
    assert parent.info.status == "FAILED" and children == []
    assert parent.data.params["sweep.space.train.data.train_file"] == '["missing.npz", "train.npz"]'
    # extends merges mappings: the base's parameters stay, this file adds one (trial 1 had all three)
    assert "sweep.space.train.optimizer.lr" in parent.data.params
    assert set(report["trials"][0]["values"]) == {"train.optimizer.lr", "train.model.hidden_sizes",
                                                  "train.data.train_file"}


def test_ctrl_c_kills_every_trial_and_the_parent_and_resume_runs_the_rest(project: Project) -> None:
    hold, held = held_trials(project)
    hold.touch()
    project.write("configs/sweeps/long.yaml", GRID.replace("set: [train.epochs=3]\n", held).replace(
        GRID.split("parameters:\n")[1], "  train.epochs: {values: [1, 500, 501]}\n"))
    sweep, log = start_sweep(project, "configs/sweeps/long.yaml")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # trial 1 finished, trials 2 and 3 training
        runs = project.runs() if "trial 1: FINISHED" in log.read_text() else []  # the store exists by then
        runs = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
        running = [run for run in runs if run.info.status == "RUNNING" and run.data.metrics]
        finished = [run for run in runs if run.info.status == "FINISHED"]
        if len(running) == 2 and len(finished) == 1:
            break
        time.sleep(0.5)
    else:
        sweep.kill()
        raise AssertionError(f"the trials never ran: {log.read_text()[-3000:]}")
    os.killpg(sweep.pid, signal.SIGINT)  # Ctrl-C at a terminal: the sweep and every trial get it
    sweep.wait(timeout=120)
    stderr = log.read_text()
    assert sweep.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    parent, children = runs_by_parent(project)
    assert parent.info.status == "KILLED"
    assert "Ctrl-C" in parent.data.tags["launcher.failure_reason"]
    assert [run.info.status for run in children] == ["FINISHED", "KILLED", "KILLED"]
    assert not [run for run in project.runs() if run.info.status == "RUNNING"]
    assert processes_in(project.root) == []

    hold.unlink()  # the resumed trials 2 and 3 run to their end
    resumed = project.smlaunch("sweep", "--resume", parent.info.run_id, "--tracking-uri", project.tracking_uri,
                               "--output", "json")
    assert resumed.code == 0, resumed.stderr[-3000:]
    parent, children = runs_by_parent(project)
    assert parent.info.status == "FINISHED"
    finished = sorted(int(run.data.tags["launcher.sweep.trial"]) for run in children
                      if run.info.status == "FINISHED")
    assert finished == [1, 2, 3]  # trial 1 was not run again
    assert [trial["trial"] for trial in resumed.json()["trials"]] == [1, 2, 3]


def test_resume_refuses_a_sweep_file_changed_since(project: Project) -> None:
    project.write("configs/sweeps/grid.yaml", GRID.replace("[0.001, 0.01]", "[0.01]").replace(
        "[[32], [64, 32]]", "[[8]]").replace("train.epochs=3", "train.epochs=1"))
    done = project.smlaunch("sweep", "configs/sweeps/grid.yaml", "--output", "json")
    assert done.code == 0, done.stderr[-2000:]
    project.write("configs/sweeps/grid.yaml", GRID)
    again = project.smlaunch("sweep", "--resume", done.json()["parent_run_id"], "--tracking-uri",
                             project.tracking_uri)
    assert again.code == 2 and "has changed since sweep" in again.stderr


def test_the_bayesian_search_learns_within_the_space_and_resumes_from_what_finished(project: Project) -> None:
    project.write("configs/sweeps/tpe.yaml", """\
config: ../local.yaml
strategy: bayesian
max_trials: 24
max_parallel: 2
seed: 3
objective: {metric: val_loss, goal: minimize}
parameters:
  train.optimizer.lr: {min: 0.0001, max: 0.1, scale: log}
  train.batch_size: {min: 16, max: 128, type: int}
  train.model.hidden_sizes: {values: [[32], [64, 32]]}
""")
    sweep = load_sweep(project.root / "configs/sweeps/tpe.yaml", cwd=project.root)

    def loss(values: dict[str, Any]) -> float:  # best near lr=0.01, batch 64, the wider net
        return (abs(values["train.optimizer.lr"] - 0.01) * 10 + abs(values["train.batch_size"] - 64) / 64
                + (0.0 if values["train.model.hidden_sizes"] == [64, 32] else 0.5))

    search = BayesianSearch(sweep, [])
    results = []
    while (trial := search.next()) is not None:
        assert 0.0001 <= trial.values["train.optimizer.lr"] <= 0.1
        assert isinstance(trial.values["train.batch_size"], int) and 16 <= trial.values["train.batch_size"] <= 128
        assert trial.values["train.model.hidden_sizes"] in ([32], [64, 32])
        result = TrialResult(trial, "FINISHED", objective=loss(dict(trial.values)))
        search.tell(result)
        results.append(result)
    assert len(results) == 24
    resumed = BayesianSearch(sweep, results[:5])  # 5 finished: 19 more, numbered on
    assert [trial.number for trial in iter(resumed.next, None)] == list(range(6, 25))
    first, last = [r.objective for r in results[:8]], [r.objective for r in results[-8:]]
    assert sum(last) < 0.75 * sum(first)  # it learns: the last trials do better than the random start


@pytest.mark.parametrize("strategy", ["grid", "random"])
def test_random_draws_are_seeded_and_typed(project: Project, strategy: str) -> None:
    project.write("configs/sweeps/r.yaml", f"""\
config: ../local.yaml
strategy: {strategy}
max_trials: 6
seed: 7
objective: {{metric: val_accuracy}}
parameters:
  train.optimizer.lr: {{min: 0.001, max: 0.1, scale: log{", steps: 3" if strategy == "grid" else ""}}}
  train.epochs: {{min: 1, max: 4, type: int{", steps: 2" if strategy == "grid" else ""}}}
""")
    first = load_sweep(project.root / "configs/sweeps/r.yaml", cwd=project.root)
    second = load_sweep(project.root / "configs/sweeps/r.yaml", cwd=project.root)
    assert first.trials == second.trials
    values = [trial.values for trial in first.trials]
    assert all(isinstance(v["train.epochs"], int) and 1 <= v["train.epochs"] <= 4 for v in values)
    if strategy == "grid":
        assert [v["train.optimizer.lr"] for v in values] == [0.001, 0.001, 0.01, 0.01, 0.1, 0.1]
    else:
        assert len(values) == 6 and len({v["train.optimizer.lr"] for v in values}) == 6


def test_ctrl_c_reaches_trials_even_when_only_the_sweep_is_signalled(project: Project) -> None:
    """SIGTERM to the sweep alone (not its process group): it stops its trials itself."""
    hold, held = held_trials(project)
    hold.touch()
    project.write("configs/sweeps/long.yaml", GRID.replace("set: [train.epochs=3]\n", held).replace(
        GRID.split("parameters:\n")[1], "  train.epochs: {values: [500, 501]}\n"))
    sweep, log = start_sweep(project, "configs/sweeps/long.yaml")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and log.read_text().count("| epoch 1") < 2:  # both trials held
        time.sleep(0.5)
    os.kill(sweep.pid, signal.SIGTERM)
    sweep.wait(timeout=120)
    stderr = log.read_text()
    assert sweep.returncode == 143, stderr[-3000:]
    parent, children = runs_by_parent(project)
    assert (parent.info.status, [c.info.status for c in children]) == ("KILLED", ["KILLED", "KILLED"])
    assert processes_in(project.root) == []


def test_a_bayesian_sweep_over_exponent_values_resumes_with_the_values_it_ran(project: Project) -> None:
    """`1e-05` is a number (YAML 1.2), recorded as the param `1e-05` and read back as that float on resume (it
    used to come back as the string '1e-05', and resuming died with a ValueError)."""
    hold, held = held_trials(project)
    project.write("configs/sweeps/exp.yaml", """\
config: ../local.yaml
set: [train.epochs=2]
strategy: bayesian
max_trials: 3
max_parallel: 1
seed: 5
objective: {metric: val_loss, goal: minimize}
parameters:
  train.optimizer.lr: {values: [1e-05, 1e-03]}
  train.model.dropout: {min: 0.0, max: 0.2}
""".replace("set: [train.epochs=2]\n", held.replace("[", "[train.epochs=2, ")))
    sweep, log = start_sweep(project, "configs/sweeps/exp.yaml")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and "trial 1: FINISHED" not in log.read_text():
        assert sweep.poll() is None, log.read_text()[-3000:]
        time.sleep(0.1)
    hold.touch()  # trial 2 is held after its first epoch: Ctrl-C comes while it runs
    os.killpg(sweep.pid, signal.SIGINT)
    sweep.wait(timeout=120)
    assert sweep.returncode == 130, log.read_text()[-3000:]
    parent, children = runs_by_parent(project)
    assert parent.info.status == "KILLED" and "launcher.failure_reason" in parent.data.tags
    finished = [run for run in children if run.info.status == "FINISHED"]
    assert finished and finished[0].data.params["train.optimizer.lr"] in ("1e-05", "0.001")

    hold.unlink()
    resumed = project.smlaunch("sweep", "--resume", parent.info.run_id, "--tracking-uri", project.tracking_uri,
                               "--output", "json")
    assert resumed.code == 0, resumed.stderr[-3000:]
    trials = resumed.json()["trials"]
    assert [trial["trial"] for trial in trials] == [1, 2, 3]
    assert all(trial["values"]["train.optimizer.lr"] in (1e-05, 0.001) for trial in trials)  # floats, not text
    parent, children = runs_by_parent(project)
    assert parent.info.status == "FINISHED"
    assert "launcher.failure_reason" not in parent.data.tags  # the interrupted attempt's reason is gone
