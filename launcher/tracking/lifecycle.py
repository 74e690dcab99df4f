"""Make a run's final state agree with its job's, whatever the container managed to record.

The container ends its run itself whenever it can; these are the launcher's and `smlaunch status`'s part:
a job that completed leaves a FINISHED run, one that failed or was stopped a FAILED or KILLED run with the
reason, and a run is never left RUNNING once its job has ended.
"""

from __future__ import annotations

from launcher.job.outcome import COMPLETED, FAILED, STOPPED, JobOutcome
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from train.handover import FAILURE_TAG, failure_tag_value

RUN_STATUS_FOR = {COMPLETED: "FINISHED", FAILED: "FAILED", STOPPED: "KILLED"}


def settle(run: TrackedRun, outcome: JobOutcome) -> str:
    """End `run` as `outcome` says when the container did not (or could not) say so; return the run's status."""
    status = client.run_status(run)
    if outcome.status == COMPLETED:
        if status == "RUNNING":  # a task that never touched MLflow still completed
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
    elif wanted == status == "KILLED" and outcome.failure_reason:
        # the container saw only a SIGTERM; the launcher knows who sent it (Ctrl-C, SIGHUP, smlaunch stop)
        client.set_tags(run, {FAILURE_TAG: failure_tag_value(outcome.failure_reason)})
    return status
