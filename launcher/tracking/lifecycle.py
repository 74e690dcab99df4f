"""Make a run's final state agree with its job's, whatever the container managed to record.

The container ends its run itself whenever it can; this is the launcher's and `smlaunch status`'s part. What
the job left unsent (journaled points the run lacks, a model it saved but could not log) is replayed with the
job's own code (tracking.replay), then the run ends as the job did: FINISHED only when the job completed and
everything it recorded reached the run; FAILED or KILLED with the reason and the last step the task logged;
never left RUNNING once its job has ended.
"""

from __future__ import annotations

from pathlib import Path

from launcher.job.outcome import COMPLETED, FAILED, STOPPED, JobOutcome
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from launcher.tracking.replay import left_behind, replay
from train.contract.handover import DROPPED_METRICS_TAG, FAILURE_TAG, MODEL_PENDING_TAG, failure_tag_value
from train.contract.journal import Journal, last_step, read_marker
from train.contract.paths import ContainerPaths

RUN_STATUS_FOR = {COMPLETED: "FINISHED", FAILED: "FAILED", STOPPED: "KILLED"}
REPLAYED_TAG = "launcher.metrics_replayed"


def tree_of(outcome: JobOutcome) -> ContainerPaths | None:
    """A local job's primary host tree (where its record is), from the outcome the executor returned."""
    if outcome.output_data and not outcome.output_data.startswith("s3://"):
        return ContainerPaths(Path(outcome.output_data).parent.parent)
    return None


def with_last_step(reason: str | None, tree: ContainerPaths | None) -> str | None:
    """The reason, saying the last step the task logged (from its journal) when there is one."""
    step = last_step(Journal(tree.metrics_journal).read()) if tree is not None else None
    if reason is None or step is None or "last step" in reason:
        return reason
    return f"{reason} (last step logged: {step})"


def settle(run: TrackedRun, outcome: JobOutcome, tree: ContainerPaths | None = None) -> str:
    """Replay what the job left, then end `run` as `outcome` says when the container did not (or could not)
    say so; return the run's status."""
    tree = tree or tree_of(outcome)
    status = client.run_status(run)
    tags: dict[str, str] = {}
    if tree is not None and left_behind(tree, status):
        sent = replay(tree, run)
        tags[REPLAYED_TAG] = str(sent.points)
        if sent.dropped:
            tags[DROPPED_METRICS_TAG] = ", ".join(sent.dropped)
    pending_model = read_marker(tree.pending_file).get("model") if tree is not None else None
    if pending_model:
        tags[MODEL_PENDING_TAG] = str(pending_model)
    if tags:
        client.set_tags(run, tags)
    wanted = RUN_STATUS_FOR.get(outcome.status)
    reason = with_last_step(outcome.failure_reason, tree)
    if outcome.status == COMPLETED and pending_model:
        wanted, reason = "FAILED", (f"the model '{pending_model}' could not be logged to MLflow; it is in the job's "
                                    f"model.tar.gz{f' ({outcome.model_artifact})' if outcome.model_artifact else ''}")
        client.add_to_note(run, f"**Not recorded**: {reason}.")
    if outcome.status == COMPLETED and wanted == "FINISHED":
        if status == "RUNNING":  # a task that never touched MLflow, or a tracker that was down at the end
            client.end_run(run, "FINISHED")
            status = "FINISHED"
        if outcome.model_artifact:
            client.set_tags(run, {"launcher.model_artifact": outcome.model_artifact})
        return status
    if wanted is not None and (status in ("RUNNING", "FINISHED") or (wanted == "FAILED" and status == "KILLED")):
        # RUNNING/FINISHED: the container could not record the end; KILLED: a host was stopped because another
        # one failed (or time ran out), and the job's failure is the truth.
        client.end_run(run, wanted, reason)
        status = wanted
    elif wanted == status and reason:
        # KILLED: the container saw only a SIGTERM; the launcher knows who sent it (Ctrl-C, SIGHUP, smlaunch
        # stop, a dead launcher). FAILED: the job's reason names the host (and, distributed, the one whose
        # failure broke the rest)
        client.set_tags(run, {FAILURE_TAG: failure_tag_value(reason)})
    return status
