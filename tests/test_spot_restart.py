"""A spot reclaim rehearsed locally (`--interrupt-after`): the restarted job resumes from its checkpoint and
continues the same run, every step once, and ends bit-identical to a run that was never interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import Project

SLOW_EPOCHS = ["--set", "train.epochs=5", "--set", "train.batch_size=1", "--set", "train.model.hidden_sizes=[512, 512]"]


def timed_run(project: Project, *args: str) -> tuple[dict, dict[str, float], str]:
    """Run the launcher, noting when (seconds after the hosts started) each line of interest appeared."""
    launcher = subprocess.Popen([sys.executable, "-m", "launcher", "run", "configs/local.yaml", "--output", "json",
                                 *SLOW_EPOCHS, *args], cwd=project.root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    assert launcher.stderr is not None and launcher.stdout is not None
    marks: dict[str, float] = {}
    started = None
    lines = []
    for line in launcher.stderr:
        lines.append(line)
        if "host(s) started" in line and started is None:
            started = time.monotonic()
        for epoch in range(1, 6):
            if f"algo-1 | epoch   {epoch} " in line and started is not None:
                marks.setdefault(f"epoch {epoch}", time.monotonic() - started)
    report = json.loads(launcher.stdout.read())
    assert launcher.wait(timeout=300) == 0, "".join(lines[-40:])
    return report, marks, "".join(lines)


def check_interrupted_run(project: Project, report: dict, baseline: dict, output: str) -> int:
    """Every property of a resumed run; returns the epoch whose checkpoint it resumed from."""
    from mlflow import MlflowClient

    assert "rehearsing a spot reclaim" in output
    resumed = [int(line.rsplit(" ", 1)[1]) for line in output.splitlines()
               if line.startswith("algo-1 | resumed from the checkpoint of epoch")]
    client = MlflowClient(tracking_uri=project.tracking_uri)
    run = client.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["launcher.restarts"] == "1"
    for key in ("train_loss", "val_loss", "val_accuracy"):
        steps = [point.step for point in client.get_metric_history(report["run_id"], key)]
        assert sorted(steps) == [1, 2, 3, 4, 5], (key, steps)  # each step once
    assert run.data.metrics == client.get_run(baseline["run_id"]).data.metrics  # bit-identical on CPU
    return resumed[0] if resumed else 0


@pytest.mark.timeout(900)
def test_interrupted_run_resumes_the_same_run_and_matches_an_uninterrupted_one(project: Project) -> None:
    """Interrupted in the middle of epoch 3 (timed from an uninterrupted run). The moment is wall-clock, so on
    a busy machine it can land in a neighbouring epoch: any epoch after the first checkpoint shows the same
    (resumed from that checkpoint, every step once, bit-identical). Only a moment before the first checkpoint
    is tried again, later (at most three attempts)."""
    baseline, marks, _ = timed_run(project)
    epoch = (marks["epoch 3"] - marks["epoch 1"]) / 2
    moment = (marks["epoch 2"] + marks["epoch 3"]) / 2
    for attempt in range(1, 4):
        report, _, output = timed_run(project, "--interrupt-after", f"{moment:.2f}")
        assert len(project.runs()) == 1 + attempt  # the restart continued its run: no run was added
        resumed_from = check_interrupted_run(project, report, baseline, output)
        if resumed_from >= 1:
            break
        moment += epoch
    assert 1 <= resumed_from <= 4, "never interrupted after a checkpoint and before the end"
