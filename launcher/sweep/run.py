"""`smlaunch sweep`, in order: the parent run → trials (launches under it) → the winner recorded → the end.

The sweep file was validated before this runs (every trial's config included), so a sweep never dies at
trial 7 on a bad value. The parent ends FINISHED when the trials ran (failed trials are in its table), FAILED
when `max_failures` stopped it or nothing finished, KILLED on Ctrl-C/SIGTERM/SIGHUP — after every running
trial has been stopped and any child run its launch could not end has been ended KILLED too.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws, AwsError
from launcher.core.errors import interruption
from launcher.core.failsafe import guarded
from launcher.executors import HOST_THREADS_ENV
from launcher.sweep.parent import (
    best_result,
    record_progress,
    start_parent,
    summarize,
)
from launcher.sweep.search import make_search
from launcher.sweep.space import Trial
from launcher.sweep.spec import SweepSpec
from launcher.sweep.trials import TrialProcess, TrialResult, host_threads, launch_command, run_trials
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from train.contract.handover import TRIAL_TAG

RECORD_PARENT = "record on the sweep's parent run"


@dataclass
class SweepOutcome:
    """The sweep's end: its parent run, the parent's status, every trial that ran, the best one."""

    parent: TrackedRun
    status: str
    results: list[TrialResult] = field(default_factory=list)
    best: TrialResult | None = None
    reason: str | None = None
    tuning_job: str | None = None  # a bayesian sweep on SageMaker: the tuner's job, which runs the trials

    def as_dict(self) -> dict[str, Any]:
        return {"parent_run_id": self.parent.run_id, "experiment_id": self.parent.experiment_id,
                "status": self.status, "failure_reason": self.reason, "tuning_job": self.tuning_job,
                "trials": [r.as_dict() for r in sorted(self.results, key=lambda r: r.trial.number)],
                "best": self.best.as_dict() if self.best else None,
                "run_url": client.run_url(self.parent)}


def run_sweep(sweep: SweepSpec, cwd: Path, command: str, resumed: TrackedRun | None = None) -> SweepOutcome:
    """Run the sweep (or, `resumed`, the trials of that parent that did not finish) and settle the parent."""
    done = finished_trials(resumed, sweep) if resumed else []
    parent = resumed or start_parent(sweep, command)
    if resumed:
        client.set_running(parent)
    search = make_search(sweep, done)
    results: list[TrialResult] = list(done)
    env = dict(os.environ)
    if sweep.base.is_local:
        env[HOST_THREADS_ENV] = str(host_threads(sweep.max_parallel))

    def start(trial: Trial) -> TrialProcess:
        print(f"trial {trial.number}: {' '.join(trial.overrides())}", file=sys.stderr)
        launch = launch_command(sweep.config, sweep.sets, parent.run_id, trial, wait=not sweep.base.is_local)
        return TrialProcess(trial, launch, env, cwd)

    unlogged: list[TrialResult] = []

    def finished(child: TrialProcess) -> bool:
        result = trial_result(child, sweep, parent)
        results.append(result)
        search.tell(result)
        shown = f"{sweep.metric}={result.objective:.6g}" if result.objective is not None else result.reason or ""
        print(f"trial {result.trial.number}: {result.status} {shown}", file=sys.stderr)
        guarded(RECORD_PARENT, record_progress, parent, sweep, results)
        if result.status == "FINISHED" and result.objective is None and result.run_id:
            unlogged.append(result)  # no trial can be judged: stop at the first
            return False
        failures = sum(r.status != "FINISHED" for r in results)
        return sweep.max_failures is None or failures < sweep.max_failures

    try:
        run_trials(search.next, start, sweep.max_parallel, finished)
    except KeyboardInterrupt as stop:
        _settle(parent, sweep, results, "KILLED", f"{interruption(stop).reason}; {_count(results)}")
        raise
    failures = sum(r.status != "FINISHED" for r in results)
    reason: str | None = None
    if unlogged:
        first = unlogged[0]
        status, reason = "FAILED", (f"trial {first.trial.number} finished without logging {sweep.metric!r}, the "
                                    f"objective (it logged: {', '.join(first.logged) or 'no metric'}): fix "
                                    "objective.metric in the sweep file, or log it in the task")
    elif sweep.max_failures is not None and failures >= sweep.max_failures:
        status, reason = "FAILED", f"stopped after {failures} failed trials (max_failures: {sweep.max_failures})"
    elif not any(r.status == "FINISHED" for r in results):
        status, reason = "FAILED", "no trial finished"
    else:
        status, reason = "FINISHED", None
    _settle(parent, sweep, results, status, reason)
    return SweepOutcome(parent, status, results, best_result(sweep, results), reason)


def trial_result(child: TrialProcess, sweep: SweepSpec, parent: TrackedRun) -> TrialResult:
    """What a trial's launch reported, with the objective read back from its run."""
    report = child.report()
    run_id = report.get("run_id")
    if not run_id:
        code = child.process.returncode or 1
        return TrialResult(child.trial, "KILLED" if code >= 128 else "FAILED", reason=str(report.get("error")))
    objective, logged = None, ()
    try:
        run = client.get_run(parent.tracking_uri, run_id)
        objective, logged = run.data.metrics.get(sweep.metric), tuple(sorted(run.data.metrics))
    except Exception as error:
        print(f"warning: could not read trial {child.trial.number}'s {sweep.metric}: {error}", file=sys.stderr)
    return TrialResult(child.trial, str(report.get("status")), run_id, objective, report.get("failure_reason"),
                       report.get("job_name"), logged)


def finished_trials(parent: TrackedRun, sweep: SweepSpec) -> list[TrialResult]:
    """The trials of `parent` whose run FINISHED (a resumed sweep runs the others again)."""
    found: dict[int, TrialResult] = {}
    for run in client.child_runs(parent):
        number = run.data.tags.get(TRIAL_TAG, "")
        if run.info.status != "FINISHED" or not number.isdigit():
            continue
        values = _trial_values(run.data.params, sweep)
        found[int(number)] = TrialResult(Trial(int(number), values), "FINISHED", run.info.run_id,
                                    run.data.metrics.get(sweep.metric), None, run.data.tags.get("launcher.job_name"))
    return [found[number] for number in sorted(found)]


def _trial_values(params: dict[str, str], sweep: SweepSpec) -> dict[str, Any]:
    """The values a finished trial ran with, read back from its params with the codec that wrote them (a listed
    value by its own text, so a string that looks like a number stays the value it was)."""
    return {p.path: p.value_of(params[p.path]) if p.path in params else None for p in sweep.parameters}


def _settle(parent: TrackedRun, sweep: SweepSpec, results: list[TrialResult], status: str,
            reason: str | None) -> None:
    """Children left RUNNING ended KILLED, the summary written, the parent ended; each step guarded."""
    guarded(RECORD_PARENT, _end_orphans, parent)
    billable = guarded("sum the trials' billable seconds", billable_seconds, parent, sweep, results)
    guarded(RECORD_PARENT, summarize, parent, sweep, results, billable)
    guarded(RECORD_PARENT, client.end_run, parent, status, reason)


def _end_orphans(parent: TrackedRun) -> None:
    for run in client.child_runs(parent):
        if run.info.status == "RUNNING":
            child = TrackedRun(run.info.run_id, parent.experiment_id, parent.tracking_uri)
            client.end_run(child, "KILLED", "the sweep was stopped before this trial's launch could end its run")


def billable_seconds(parent: TrackedRun, sweep: SweepSpec, results: list[TrialResult],
                     aws: Aws | None = None) -> float | None:
    """SageMaker's billable seconds of every trial's job, summed (None locally, or when SageMaker gave none);
    each trial's run gets its job's cost tags on the way (instance, billable and training seconds)."""
    if sweep.base.is_local:
        return None
    from launcher.cloud.reconcile import cost_tags

    aws = aws or Aws(sweep.base.job.region)
    total: float | None = None
    for result in results:
        if not result.job_name or not result.run_id:
            continue
        try:
            job = aws.describe_training_job(result.job_name)
        except AwsError as error:
            print(f"warning: trial {result.trial.number}'s cost is unknown: {error}", file=sys.stderr)
            continue
        client.set_tags(TrackedRun(result.run_id, parent.experiment_id, parent.tracking_uri), cost_tags(job))
        if job.get("BillableTimeInSeconds") is not None:
            total = (total or 0.0) + float(job["BillableTimeInSeconds"])
    return total


def _count(results: list[TrialResult]) -> str:
    return f"{sum(r.status == 'FINISHED' for r in results)} of {len(results)} ended trials finished"
