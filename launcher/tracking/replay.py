"""Send what a job left unsent (journaled points, a model it could not log) with the job's own code.

The job and its settler must never disagree about what is missing or how a point is sent, so there is one
implementation, the job's (train.runtime.tracking.replay); the launcher runs it as `python -m
train.runtime.replay` on the job's tree (a local job's primary host, or a cloud job's record unpacked from its
output), with the launcher's own access to the tracker. It is only run when a job left work behind, so a
job that ended cleanly pays nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field

from launcher.tracking.client import TrackedRun, TrackingError
from train.contract.journal import read_marker
from train.contract.paths import ContainerPaths

REPLAY_MODULE = "train.runtime.replay"
REPLAY_SECONDS = 600


@dataclass(frozen=True)
class Replayed:
    """What a replay sent: points, the model (its name), and metric names the tracker refused."""

    points: int = 0
    model: str | None = None
    dropped: list[str] = field(default_factory=list)
    model_missing: str | None = None


def left_behind(tree: ContainerPaths, run_status: str) -> bool:
    """Whether the job left work for its settler: marked pending, or it never ended its run itself."""
    if read_marker(tree.pending_file):
        return True
    return run_status == "RUNNING" and tree.metrics_journal.is_file()


def replay(tree: ContainerPaths, run: TrackedRun) -> Replayed:
    """Run the job's replay on `tree`; TrackingError (saying the record is kept) when the tracker cannot take it."""
    command = [sys.executable, "-m", REPLAY_MODULE, str(tree.base), run.run_id, run.tracking_uri]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=REPLAY_SECONDS, check=False)
        lines = done.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {"error": (done.stderr.strip().splitlines() or ["no answer"])[-1]}
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        answer = {"error": f"{type(error).__name__}: {error}"}
    if "error" in answer:
        reason = answer["error"]
        raise TrackingError(f"could not send what the job left unsent ({reason}); it is kept in {tree.record_dir}: "
                            f"`smlaunch status {run.run_id}` sends it once the tracker answers")
    return Replayed(int(answer.get("points", 0)), answer.get("model"), list(answer.get("dropped", [])),
                    answer.get("model_missing"))
