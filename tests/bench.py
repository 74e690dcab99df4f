"""`make bench`: measure whole-process wall times that matter to users. Prints medians; asserts nothing.

  validate     `smlaunch validate configs/local.yaml` (goal ≤ 0.3 s)
  smoke run    `smlaunch run configs/local.yaml` on a warm sqlite store (goal ≤ 20 s on 2 cores)
"""

from __future__ import annotations

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


def report(name: str, times: list[float], goal: float) -> None:
    median = statistics.median(times)
    verdict = "ok" if median <= goal else "OVER GOAL"
    spread = f"min {min(times):.2f} s, max {max(times):.2f} s"
    print(f"{name:<28} median {median:6.2f} s over {len(times)} runs ({spread}); goal ≤ {goal} s: {verdict}")


def scratch_project(root: Path) -> Path:
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "data" / "digits", root / "data" / "digits")
    return root


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    print(f"smlaunch bench on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    report("validate", wall_times([*SMLAUNCH, "validate", "configs/local.yaml"], repeats * 3, REPO), 0.3)
    with tempfile.TemporaryDirectory(prefix="smlaunch-bench-") as scratch:
        project = scratch_project(Path(scratch))
        run = [*SMLAUNCH, "run", "configs/local.yaml"]
        wall_times(run, 1, project)  # warm-up: creates the sqlite store (schema migrations, ~2 s once)
        report("local smoke run (warm store)", wall_times(run, repeats, project), 20.0)


if __name__ == "__main__":
    main()
