"""The container's door to MLflow: resume the launcher's run, log metrics, figures and the model, end the run.

The run is named by MLFLOW_RUN_ID (the launcher's hand-over). Only MLflow's client is used, never the fluent
`mlflow.start_run`, so MLflow's exit hook can never end the run: the runtime ends it, always explicitly.
A tracker outage costs no training: metrics go through train.metrics (journal + background sender), every
other call retries until a deadline, and what could not be sent is left in the output dir with a marker
(`pending.json`) for the launcher to replay. On hosts other than the first, the tracker is disabled: one
run, one writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from train import metrics, models, retry
from train.contract import ContainerPaths
from train.handover import (
    EXPERIMENT_ID_ENV,
    FAILURE_TAG,
    METRIC_LINE_PREFIX,
    METRIC_LINES_ENV,
    PARENT_RUN_ID_ENV,
    PARENT_TAG,
    REGISTER_AS_ENV,
    RUN_ID_ENV,
    TRACKING_URI_ENV,
    TRIAL_TAG,
    failure_tag_value,
    quiet_mlflow,
)
from train.timeline import mark

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow import MlflowClient

T = TypeVar("T")

START_SECONDS = 20.0  # how long the first resume may retry before training starts without the tracker
CALL_SECONDS = 60.0  # figures, tags, the model: retried this long, then kept in the output dir only
FLUSH_SECONDS_ENV = "SMLAUNCH_FLUSH_SECONDS"  # how long the end of the job waits for pending metrics
DEFAULT_FLUSH_SECONDS = 120.0
FAIL_SECONDS = 20.0  # a failing or stopped job ends within SageMaker's 120 s grace (and a local host's 30 s)
RESTARTS_TAG = "launcher.restarts"
INTERRUPTED_TAG = "launcher.interrupted_at"
MODEL_NAME = "model"


@dataclass(frozen=True)
class TrialOf:
    """The sweep a tuning trial belongs to: its parent run, experiment, and the trial's training job."""

    run_id: str
    experiment_id: str
    job_name: str


class RunTracker:
    """Logs to the launcher's run; every method is a no-op when `enabled` is False (hosts after the first)."""

    def __init__(self, paths: ContainerPaths, enabled: bool, tracking_uri: str | None = None,
                 run_id: str | None = None, parent: TrialOf | None = None) -> None:
        self.paths = paths
        self.enabled = enabled and bool(tracking_uri and (run_id or parent))
        self.tracking_uri = tracking_uri or ""
        self.run_id = run_id or ""
        self.parent = None if run_id else parent  # a tuning trial creates its own run under this parent
        self.print_metrics = os.environ.get(METRIC_LINES_ENV) == "true"
        self.resumed = False
        self.restarts = 0
        self._client: MlflowClient | None = None
        self._resuming = threading.Lock()  # the sender thread and the main thread may both try
        self._sender = metrics.MetricSender(self._send, metrics.Journal(paths.metrics_journal))
        self._sender.ready = self._ensure_resumed

    @classmethod
    def from_environment(cls, paths: ContainerPaths, enabled: bool, environ: Mapping[str, str] = os.environ
                         ) -> RunTracker:
        # MLflow's own HTTP retries would block the calling thread for minutes; ours are bounded (train.retry)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        parent = None
        if environ.get(PARENT_RUN_ID_ENV) and environ.get(EXPERIMENT_ID_ENV):
            parent = TrialOf(environ[PARENT_RUN_ID_ENV], environ[EXPERIMENT_ID_ENV],
                             environ.get("TRAINING_JOB_NAME", "tuning-trial"))
        return cls(paths, enabled, environ.get(TRACKING_URI_ENV), environ.get(RUN_ID_ENV), parent)

    # -- the run's start ------------------------------------------------------------------------------------
    def start(self, restarted: bool = False) -> None:
        """Resume the run (RUNNING again, restart counted); training starts anyway if the tracker is down."""
        if not self.enabled:
            return
        self.restarts = 1 if restarted else 0
        try:
            retry.until(time.monotonic() + START_SECONDS, self._ensure_resumed)
        except Exception as error:
            warn(f"the tracker is unreachable ({_reason(error)}); training goes on, metrics are kept in "
                  f"{self.paths.metrics_journal} and sent when it is back")
        self._sender.start()

    def _mlflow(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient

            quiet_mlflow()
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _ensure_resumed(self) -> bool:
        with self._resuming:
            if not self.resumed:
                self._resume()
        return True

    def _resume(self) -> None:
        client = self._mlflow()
        if not self.run_id and self.parent is not None:
            self.run_id = self._create_trial_run(client, self.parent)
        run = client.get_run(self.run_id)
        if INTERRUPTED_TAG in run.data.tags:  # a reclaim before the first checkpoint is a restart too
            self.restarts = 1
        if self.restarts:
            self.restarts = int(run.data.tags.get(RESTARTS_TAG, "0")) + 1
            self._sender.skip = metrics.logged_steps(
                lambda key: (m.step for m in client.get_metric_history(self.run_id, key)), run.data.metrics)
            client.set_tag(self.run_id, RESTARTS_TAG, str(self.restarts))
        client.update_run(self.run_id, status="RUNNING")
        self.resumed = True

    def _create_trial_run(self, client: MlflowClient, parent: TrialOf) -> str:
        """A tuning trial's own run, under the sweep's parent, named after its training job. A restarted
        trial (spot) finds the run it created before instead of making a second one."""
        from mlflow.entities import Param

        from train.tuning import child_params

        found = client.search_runs([parent.experiment_id], max_results=1, filter_string=(
            f"tags.`{PARENT_TAG}` = '{parent.run_id}' and tags.`launcher.job_name` = '{parent.job_name}'"))
        if found:
            return str(found[0].info.run_id)
        tags = {PARENT_TAG: parent.run_id, TRIAL_TAG: parent.job_name,
                "launcher.job_name": parent.job_name, "launcher.mode": "sagemaker", "launcher.tuning_trial": "true"}
        run = client.create_run(parent.experiment_id, run_name=parent.job_name, tags=tags)
        params = [Param(key, value) for key, value in child_params(self.paths).items()]
        for start in range(0, len(params), 100):
            client.log_batch(run.info.run_id, params=params[start : start + 100])
        return str(run.info.run_id)

    # -- during training --------------------------------------------------------------------------------------
    def log_metrics(self, values: Mapping[str, Any], step: int) -> None:
        """Record `values` at `step`; returns at once. A bad name or value raises here, for this call only."""
        points = metrics.checked(values, step)
        mark("metrics")
        if self.enabled:
            self._sender.add(points)
            if self.print_metrics:  # what SageMaker's metric definitions (a tuner's objective) read
                for point in points:
                    print(f"{METRIC_LINE_PREFIX} {point.key}={point.value!r}", flush=True)

    def _send(self, batch: list[metrics.Point]) -> None:
        from mlflow.entities import Metric

        self._mlflow().log_batch(self.run_id, metrics=[Metric(p.key, p.value, p.timestamp, p.step) for p in batch])

    def log_figure(self, figure: Figure, artifact_file: str) -> None:
        """Save a matplotlib figure under the output dir and log it to the run (e.g. plots/curves.png)."""
        local = self.paths.output_data_dir / artifact_file
        local.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(local)
        if self.enabled:
            directory = str(Path(artifact_file).parent) if Path(artifact_file).parent != Path(".") else None
            self._call(lambda: self._mlflow().log_artifact(self.run_id, str(local), directory), f"log {artifact_file}")

    def log_model(self, model: Any, input_example: Any = None, name: str = MODEL_NAME,
                  extra_requirements: tuple[str, ...] = ()) -> None:
        """Save the model to /opt/ml/model/<name> (always), then log those files to the run as a logged model
        in its flavour (PyTorch, scikit-learn or pyfunc), registered if the job config asks for it."""
        directory = self.paths.model_dir / name
        flavour = models.save(model, directory, input_example, extra_requirements)
        if self.enabled:
            registered = os.environ.get(REGISTER_AS_ENV) or None
            self._call(lambda: models.log_saved(directory, flavour, self.run_id, name, registered), "log the model",
                       pending="model")

    def _call(self, call: Callable[[], T], what: str, pending: str | None = None) -> None:
        try:
            retry.until(time.monotonic() + CALL_SECONDS, lambda: (self._ensure_resumed(), call()))
        except Exception as error:
            warn(f"could not {what} ({_reason(error)}); it is kept in the job's output")
            if pending:
                self._mark_pending(pending)

    # -- the run's end ----------------------------------------------------------------------------------------
    def finish(self) -> None:
        self._end("FINISHED")

    def fail(self, reason: str, killed: bool = False) -> None:
        self._end("KILLED" if killed else "FAILED", reason, flush_seconds=min(self._flush_seconds(), FAIL_SECONDS))

    def suspend(self) -> None:
        """A spot reclaim: keep the run RUNNING (the restarted job resumes it), send what is pending."""
        if not self.enabled:
            return
        unsent = self._sender.close(time.monotonic() + min(self._flush_seconds(), FAIL_SECONDS))
        self._guard(lambda: self._mlflow().set_tag(self.run_id, INTERRUPTED_TAG, str(int(time.time()))), "tag")
        if unsent:
            self._mark_pending("metrics", unsent)

    def _end(self, status: str, reason: str | None = None, flush_seconds: float | None = None) -> None:
        """Send pending points until the deadline, then end the run; what is left is marked for replay.
        Never raises: this is every exit path of the job."""
        if not self.enabled:
            return
        deadline = time.monotonic() + (self._flush_seconds() if flush_seconds is None else flush_seconds)
        unsent = self._sender.close(deadline)
        if unsent:
            self._mark_pending("metrics", unsent)
            if status == "FINISHED":  # the launcher (or `smlaunch status`) replays and settles it
                warn(f"{unsent} metric points not acknowledged yet; they are in {self.paths.metrics_journal}")
                return

        def end() -> None:
            if reason:
                self._mlflow().set_tag(self.run_id, FAILURE_TAG, failure_tag_value(reason))
            self._mlflow().set_terminated(self.run_id, status=status)

        self._guard(lambda: retry.until(max(deadline, time.monotonic() + 5), end), f"end the run {status}")

    def _flush_seconds(self) -> float:
        try:
            return float(os.environ.get(FLUSH_SECONDS_ENV, DEFAULT_FLUSH_SECONDS))
        except ValueError:
            return DEFAULT_FLUSH_SECONDS

    def _mark_pending(self, what: str, count: int | bool = True) -> None:
        def write() -> None:
            found = json.loads(self.paths.pending_file.read_text()) if self.paths.pending_file.exists() else {}
            found[what] = count
            self.paths.pending_file.parent.mkdir(parents=True, exist_ok=True)
            self.paths.pending_file.write_text(json.dumps(found))

        self._guard(write, "mark pending work")

    @staticmethod
    def _guard(step: Callable[[], object], what: str) -> None:
        try:
            step()
        except Exception as error:
            warn(f"could not {what}: {_reason(error)}")


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


def warn(message: str) -> None:
    """A line on stderr for the job's log; never raises (stderr may be gone while the job ends)."""
    with contextlib.suppress(Exception):
        print(f"smlaunch: {message}", file=sys.stderr, flush=True)


def end_if_running(environ: Mapping[str, str], reason: str) -> None:
    """End the job's run FAILED with `reason` unless it has ended already; for a host whose workers could not
    (the first host of a torchrun job, when rank 0 itself was killed). Bounded; never raises."""
    uri, run_id = environ.get(TRACKING_URI_ENV), environ.get(RUN_ID_ENV)
    if not uri or not run_id:
        return

    def end() -> None:
        from mlflow import MlflowClient

        quiet_mlflow()
        client = MlflowClient(tracking_uri=uri)
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_tag(run_id, FAILURE_TAG, failure_tag_value(reason))
            client.set_terminated(run_id, status="FAILED")

    RunTracker._guard(lambda: retry.until(time.monotonic() + FAIL_SECONDS, end), "end the run FAILED")
