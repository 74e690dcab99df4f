"""Make a run's final state agree with its job's, whatever the container managed to record.

The container ends its run itself whenever it can; these are the launcher's and `smlaunch status`'s part:
metric points the container could not deliver (left in its output with a pending marker) are replayed, then
a job that completed leaves a FINISHED run, one that failed or was stopped a FAILED or KILLED run with the
reason, and a run is never left RUNNING once its job has ended.
"""

from __future__ import annotations

import json
from pathlib import Path

from launcher.job.outcome import COMPLETED, FAILED, STOPPED, JobOutcome
from launcher.tracking import client
from launcher.tracking.client import TrackedRun, TrackingError
from train.contract import ContainerPaths
from train.handover import FAILURE_TAG, failure_tag_value

RUN_STATUS_FOR = {COMPLETED: "FINISHED", FAILED: "FAILED", STOPPED: "KILLED"}
REPLAYED_TAG = "launcher.metrics_replayed"


def replay_pending(run: TrackedRun, record_dir: Path) -> int:
    """Send the journaled points a job could not deliver (by metric and step, so nothing twice); 0 when the
    job delivered everything. Raises TrackingError while the tracker is still unreachable."""
    pending, journal = record_dir / "pending.json", record_dir / "metrics.jsonl"
    if not pending.exists():
        return 0
    from train.metrics import replay_journal

    try:
        sent = replay_journal(run.tracking_uri, run.run_id, journal) if journal.exists() else 0
    except Exception as error:
        raise TrackingError(f"{client.describe_error(error, run.tracking_uri)}; the job's metrics are kept in "
                            f"{journal}: `smlaunch status {run.run_id}` records them once the tracker answers") \
            from error
    client.set_tags(run, {REPLAYED_TAG: str(sent)})
    left = json.loads(pending.read_text(encoding="utf-8"))
    left.pop("metrics", None)
    pending.write_text(json.dumps(left), encoding="utf-8") if left else pending.unlink()
    return sent


def record_dir_of(outcome: JobOutcome) -> Path | None:
    """Where a local job's primary host left its record (journal, pending marker)."""
    if outcome.output_data and not outcome.output_data.startswith("s3://"):
        return ContainerPaths(Path(outcome.output_data).parent.parent).record_dir
    return None


def settle(run: TrackedRun, outcome: JobOutcome, record_dir: Path | None = None) -> str:
    """Replay what the job could not send, then end `run` as `outcome` says when the container did not (or
    could not) say so; return the run's status."""
    record_dir = record_dir or record_dir_of(outcome)
    if record_dir is not None:
        replay_pending(run, record_dir)
    status = client.run_status(run)
    if outcome.status == COMPLETED:
        if status == "RUNNING":  # a task that never touched MLflow, or a tracker that was down at the end
            client.end_run(run, "FINISHED")
            status = "FINISHED"
        if outcome.model_artifact:
            client.set_tags(run, {"launcher.model_artifact": outcome.model_artifact})
        return status
    wanted = RUN_STATUS_FOR.get(outcome.status)
    if wanted is not None and (status in ("RUNNING", "FINISHED") or (wanted == "FAILED" and status == "KILLED")):
        # RUNNING/FINISHED: the container could not record the end; KILLED: a host was stopped because another
        # one failed (or time ran out), and the job's failure is the truth.
        client.end_run(run, wanted, outcome.failure_reason)
        status = wanted
    elif wanted == status and outcome.failure_reason:
        # KILLED: the container saw only a SIGTERM; the launcher knows who sent it (Ctrl-C, SIGHUP, smlaunch
        # stop). FAILED: the job's reason names the host (and, distributed, the one whose failure broke the rest)
        client.set_tags(run, {FAILURE_TAG: failure_tag_value(outcome.failure_reason)})
    return status
