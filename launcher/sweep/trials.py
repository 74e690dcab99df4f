"""Run trials as ordinary launches: each a child `smlaunch run --output json`, at most `max_parallel` at once.

A trial is exactly what a user could type: the base config, the sweep's `set` and the trial's values as
`--set`, plus two hidden options that put the run under the parent (`mlflow.parentRunId`, so the MLflow UI
nests it) with its trial number. Each child is its own process, so a trial that crashes, hangs or is stopped
touches no other; its output is streamed prefixed with `trial N |`. Locally the machine's cores are shared:
each host is told to use cores/max_parallel threads. On Ctrl-C (or SIGTERM/SIGHUP) every running child is
told to stop, as Ctrl-C tells a launch, and waited for; each ends its own run KILLED.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from launcher.executors.hosts import stream_prefixed
from launcher.sweep.space import Trial

POLL_SECONDS = 0.2
STOP_SECONDS = 60.0  # a child's own stop is bounded (hosts 30 s, the run's end); then it is killed
THREADS_ENV = "SMLAUNCH_HOST_THREADS"  # local hosts of this launch use this many threads (OMP_NUM_THREADS)


@dataclass
class TrialResult:
    """How a trial ended: its run, the run's status, the objective's last value, why it failed."""

    trial: Trial
    status: str
    run_id: str | None = None
    objective: float | None = None
    reason: str | None = None
    job_name: str | None = None
    logged: tuple[str, ...] = ()  # the metrics the trial's run holds

    def as_dict(self) -> dict[str, Any]:
        return {**self.trial.as_dict(), "status": self.status, "run_id": self.run_id, "objective": self.objective,
                "job_name": self.job_name, "failure_reason": self.reason}


class TrialProcess:
    """One trial's launch, as a child process of the sweep."""

    def __init__(self, trial: Trial, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.trial = trial
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        errors="replace", env=env, cwd=cwd)
        self._stdout: list[str] = []
        self._threads = [threading.Thread(target=_collect, args=(self.process.stdout, self._stdout), daemon=True),
                         threading.Thread(target=stream_prefixed, args=(self.process.stderr, f"trial {trial.number}"),
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    def done(self) -> bool:
        return self.process.poll() is not None

    def stop(self) -> None:
        """Tell the launch to stop as Ctrl-C would (it stops its job and ends its run KILLED)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, seconds: float) -> None:
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def report(self) -> dict[str, Any]:
        """The launch's JSON report (or its JSON error), once it has ended."""
        for thread in self._threads:
            thread.join(timeout=5)
        for line in reversed(self._stdout):
            try:
                found = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
        return {"error": f"the launch exited with code {self.process.returncode} without a report"}


def launch_command(config: Path, overrides: tuple[str, ...], parent_run_id: str, trial: Trial,
                   wait: bool) -> list[str]:
    """The trial's launch: what a user would type, plus where it belongs."""
    command = [sys.executable, "-m", "launcher", "run", str(config), "--output", "json"]
    for item in (*overrides, *trial.overrides()):
        command += ["--set", item]
    command += ["--sweep-parent", parent_run_id, "--sweep-trial", str(trial.number)]
    return command + (["--wait"] if wait else [])


def host_threads(max_parallel: int) -> int:
    """Threads per local host when `max_parallel` trials share this machine."""
    return max(1, (os.cpu_count() or 1) // max_parallel)


def run_trials(next_trial: Callable[[], Trial | None], start: Callable[[Trial], TrialProcess], max_parallel: int,
               finished: Callable[[TrialProcess], bool]) -> None:
    """Keep up to `max_parallel` trials running until `next_trial` has none left (or `finished` returns False
    for one: no new trial starts, the running ones end). Interrupted, every running trial is stopped and
    waited for, `finished` still hears of each, and the interruption is raised again."""
    running: list[TrialProcess] = []
    starting = True
    try:
        while True:
            while starting and len(running) < max_parallel:
                trial = next_trial()
                if trial is None:
                    starting = False
                    break
                running.append(start(trial))
            if not running:
                return
            time.sleep(POLL_SECONDS)
            for ended in [child for child in running if child.done()]:
                running.remove(ended)
                starting = finished(ended) and starting
    except KeyboardInterrupt:
        for child in running:
            child.stop()
        deadline = time.monotonic() + STOP_SECONDS
        for child in running:
            child.wait(max(deadline - time.monotonic(), 0.1))
            finished(child)
        raise


def _collect(pipe: IO[str] | None, lines: list[str]) -> None:
    if pipe is not None:
        lines.extend(pipe)
