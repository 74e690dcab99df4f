"""`make bench`: measure whole-process wall times that matter to users. Prints medians; asserts nothing.

  validate        `smlaunch validate configs/local.yaml` (goal ≤ 0.3 s)
  billion laughs  `smlaunch validate` of a config whose training config is an alias bomb: refused, with
                  wall time (goal < 1 s) and the process's peak RSS from wait4 (goal < 100 MB)
  smoke run       `smlaunch run configs/local.yaml` on a warm sqlite store (goal ≤ 20 s on 2 cores)
  cloud launch    `smlaunch run` of a SageMaker config against a loopback moto server and a loopback MLflow
                  server (a SageMaker job cannot use a sqlite store, so the bench uses a server): from command
                  start until CreateTrainingJob is sent (the report's `submitted_at`; goal ≤ 1.5 s), and the
                  whole command, which also tags the run with the job's links and exits

Run as `python -m tests.bench` (make bench).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMLAUNCH = [sys.executable, "-m", "launcher"]


def wall_times(command: Sequence[str], repeats: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def report(name: str, times: list[float], goal: float | None) -> None:
    median = statistics.median(times)
    verdict = "no goal" if goal is None else f"goal ≤ {goal} s: {'ok' if median <= goal else 'OVER GOAL'}"
    spread = f"min {min(times):.2f} s, max {max(times):.2f} s"
    print(f"{name:<36} median {median:6.2f} s over {len(times)} runs ({spread}); {verdict}")


def time_and_peak_memory(command: Sequence[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, process.returncode


def billion_laughs(root: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (root / "configs" / "train" / "bomb.yaml").write_text("\n".join(lines) + "\n")
    job = (root / "configs" / "local.yaml").read_text().replace("train/digits.yaml", "train/bomb.yaml")
    (root / "configs" / "bomb-job.yaml").write_text(job)
    samples = [time_and_peak_memory([*SMLAUNCH, "validate", "configs/bomb-job.yaml"], root) for _ in range(5)]
    assert all(code == 2 for _, _, code in samples), "the alias bomb was not refused"
    wall = statistics.median(sample[0] for sample in samples)
    peak = max(sample[1] for sample in samples)
    verdict = "ok" if wall < 1 and peak < 100 else "OVER GOAL"
    print(f"{'billion laughs refused':<36} median {wall:6.2f} s, peak RSS {peak:.0f} MB over 5 runs; "
          f"goal < 1 s and < 100 MB: {verdict}")


def scratch_project(root: Path) -> Path:
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "train", root / "train", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data" / "digits", root / "data" / "digits")
    return root


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    print(f"smlaunch bench on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    report("validate", wall_times([*SMLAUNCH, "validate", "configs/local.yaml"], repeats * 3, REPO), 0.3)
    with tempfile.TemporaryDirectory(prefix="smlaunch-bench-") as scratch:
        project = scratch_project(Path(scratch))
        billion_laughs(project)
        run = [*SMLAUNCH, "run", "configs/local.yaml"]
        wall_times(run, 1, project)  # warm-up: creates the sqlite store (schema migrations, ~2 s once)
        report("local smoke run (warm store)", wall_times(run, repeats, project), 20.0)
        cloud_launch(project, Path(scratch), repeats)


def cloud_launch(project: Path, scratch: Path, repeats: int) -> None:
    from tests.cloud import make_cloud_project
    from tests.conftest import Project
    from tests.services import mlflow_server, moto_server

    (scratch / "moto").mkdir()
    (scratch / "mlflow").mkdir()
    with moto_server(scratch / "moto") as moto, mlflow_server(scratch / "mlflow") as tracking_uri:
        make_cloud_project(Project(project), moto, tracking_uri)
        env = {**os.environ, **{k: v for k, v in moto.aws_env().items() if v is not None}}
        env.pop("AWS_PROFILE", None)
        command = [*SMLAUNCH, "run", "configs/cloud.yaml"]
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)  # warm-up: experiment
        to_submit, whole = [], []
        for _ in range(repeats * 2):
            started_wall, started = time.time(), time.perf_counter()
            done = subprocess.run([*command, "--output", "json"], cwd=project, env=env, check=True,
                                  capture_output=True, text=True)
            whole.append(time.perf_counter() - started)
            to_submit.append(float(json.loads(done.stdout)["submitted_at"]) - started_wall)
        report("cloud launch: to CreateTrainingJob", to_submit, 1.5)
        report("cloud launch: whole command", whole, None)


if __name__ == "__main__":
    main()
