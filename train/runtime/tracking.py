"""The job's one door to MLflow: resume the launcher's run, log metrics, figures and the model, end the run, and
replay what a job left unsent.

The run is named by MLFLOW_RUN_ID (the launcher's hand-over). Only MLflow's client is used, never the fluent
`mlflow.start_run`, so MLflow's exit hook can never end the run: the runtime ends it, always explicitly.
MLflow's own HTTP layer does auth, TLS and short per-request retries; a tracker outage costs no training:
metrics go through train.runtime.metrics (journal + background sender), every other call retries what may
succeed later until a deadline (train.runtime.retry), and what could not be sent is left in the job's record
(`pending.json`) for whoever settles the run to replay (`replay`, run by `python -m train.runtime.replay`).
A tracker that refuses the job itself (401, 403, 404) stops it at once instead of hanging it. On hosts other
than the first, the tracker is disabled: one run, one writer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from train.contract.handover import (
    DROPPED_METRICS_TAG,
    EXPERIMENT_ID_ENV,
    FAILURE_TAG,
    METRIC_LINE_PREFIX,
    METRIC_LINES_ENV,
    MODEL_PENDING_TAG,
    PARENT_RUN_ID_ENV,
    PARENT_TAG,
    REGISTER_AS_ENV,
    RUN_ID_ENV,
    TRACKING_URI_ENV,
    TRIAL_TAG,
    failure_tag_value,
    quiet_mlflow,
)
from train.contract.journal import Journal, Point, missing, read_marker, update_marker
from train.contract.mlflow_rules import MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH
from train.contract.params import as_params
from train.contract.paths import ContainerPaths
from train.contract.timeline import mark
from train.contract.uris import redact
from train.runtime import metrics, models, retry
from train.runtime.failure import warn

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
# MLflow's own per-request retries, short: a dropped connection or a 5xx is retried at once (3 times, 0-4 s
# apart), and whole operations are retried above that, within a deadline (its default waits minutes)
HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


class TrackerRefused(RuntimeError):
    """The tracker refuses the job itself (credentials, permissions, a run that does not exist)."""


@dataclass(frozen=True)
class TrialOf:
    """The sweep a tuning trial belongs to: its parent run, experiment, and the trial's training job."""

    run_id: str
    experiment_id: str
    job_name: str


def open_client(tracking_uri: str) -> MlflowClient:
    """MLflow's client for `tracking_uri`, with MLflow's chatter kept off the job's log."""
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    from mlflow import MlflowClient

    quiet_mlflow()
    return MlflowClient(tracking_uri=tracking_uri)


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
        self.dropped: dict[str, str] = {}  # metric names MLflow refuses: name → why
        self._client: MlflowClient | None = None
        self._resuming = threading.Lock()  # the sender thread and the main thread may both try
        self._sender = metrics.MetricSender(self._send, Journal(paths.metrics_journal), refused=self._refused)
        self._sender.ready = self._ensure_resumed

    @classmethod
    def from_environment(cls, paths: ContainerPaths, enabled: bool, environ: Mapping[str, str] = os.environ
                         ) -> RunTracker:
        parent = None
        if environ.get(PARENT_RUN_ID_ENV) and environ.get(EXPERIMENT_ID_ENV):
            parent = TrialOf(environ[PARENT_RUN_ID_ENV], environ[EXPERIMENT_ID_ENV],
                             environ.get("TRAINING_JOB_NAME", "tuning-trial"))
        return cls(paths, enabled, environ.get(TRACKING_URI_ENV), environ.get(RUN_ID_ENV), parent)

    # -- the run's start ------------------------------------------------------------------------------------
    def start(self, restarted: bool = False) -> None:
        """Resume the run (RUNNING again, restart counted); training starts anyway if the tracker is down, and
        not at all when it refuses the job (TrackerRefused)."""
        if not self.enabled:
            return
        self.restarts = 1 if restarted else 0
        try:
            retry.until(time.monotonic() + START_SECONDS, self._ensure_resumed)
        except Exception as error:
            if not retry.retryable(error):
                raise TrackerRefused(f"MLflow at {redact(self.tracking_uri)} refuses the job: {_reason(error)}; "
                                     "the job needs its own credentials (`secrets:` in the job config)") from None
            warn(f"the tracker is unreachable ({_reason(error)}); training goes on, metrics are kept in "
                 f"{self.paths.metrics_journal} and sent when it is back")
        self._sender.start()

    def _mlflow(self) -> MlflowClient:
        if self._client is None:
            self._client = open_client(self.tracking_uri)
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
            self._sender.skip = held_steps(client, self.run_id, run.data.metrics)
            client.set_tag(self.run_id, RESTARTS_TAG, str(self.restarts))
        client.update_run(self.run_id, status="RUNNING")
        self.resumed = True

    def _create_trial_run(self, client: MlflowClient, parent: TrialOf) -> str:
        """A tuning trial's own run, under the sweep's parent, named after its training job. A restarted
        trial (spot) finds the run it created before instead of making a second one."""
        from mlflow.entities import Param

        from train.runtime.tuning import child_config

        found = client.search_runs([parent.experiment_id], max_results=1, filter_string=(
            f"tags.`{PARENT_TAG}` = '{parent.run_id}' and tags.`launcher.job_name` = '{parent.job_name}'"))
        if found:
            return str(found[0].info.run_id)
        tags = {PARENT_TAG: parent.run_id, TRIAL_TAG: parent.job_name,
                "launcher.job_name": parent.job_name, "launcher.mode": "sagemaker", "launcher.tuning_trial": "true"}
        run = client.create_run(parent.experiment_id, run_name=parent.job_name, tags=tags)
        params = [Param(key, value) for key, value in as_params(child_config(self.paths)).items()]
        for start in range(0, len(params), MAX_PARAMS_TAGS_PER_BATCH):
            client.log_batch(run.info.run_id, params=params[start : start + MAX_PARAMS_TAGS_PER_BATCH])
        return str(run.info.run_id)

    # -- during training --------------------------------------------------------------------------------------
    def log_metrics(self, values: Mapping[str, Any], step: int) -> None:
        """Record `values` at `step`; returns at once. A name MLflow refuses is dropped (and said, once); a value
        that is not a number raises here, for this call only."""
        points, refused = metrics.checked(values, step)
        for name, why in refused.items():
            self._drop(name, why)
        mark("metrics")
        if self.enabled:
            self._sender.add([point for point in points if point.key not in self.dropped])
            if self.print_metrics:  # what SageMaker's metric definitions (a tuner's objective) read
                for point in points:
                    print(f"{METRIC_LINE_PREFIX} {point.key}={point.value!r}", flush=True)

    def _drop(self, name: str, why: str) -> None:
        if name not in self.dropped:
            self.dropped[name] = why
            self._sender.dropped.add(name)
            warn(f"metric {name!r} is not recorded: MLflow refuses it ({why}); the other metrics are")

    def _refused(self, point: Point, error: BaseException) -> None:
        self._drop(point.key, f"the tracker refused it: {_reason(error)}")

    def _send(self, batch: list[Point]) -> None:
        send_points(self._mlflow(), self.run_id, batch)

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
        in its flavour (PyTorch, scikit-learn or pyfunc), registered if the job config asks for it. When the
        tracker cannot take it, it stays pending (the model is in model.tar.gz) and is logged on replay."""
        directory = self.paths.model_dir / name
        models.save(model, directory, input_example, extra_requirements)
        if not self.enabled:
            return
        try:
            retry.until(time.monotonic() + CALL_SECONDS,
                        lambda: (self._ensure_resumed(), log_saved_model(self._mlflow(), self.tracking_uri,
                                                                         self.run_id, directory, name)))
        except Exception as error:
            warn(f"could not log the model ({_reason(error)}); it is in the job's model.tar.gz and is logged "
                 "when the run is settled")
            update_marker(self.paths.pending_file, model=name)

    def _call(self, call: Callable[[], T], what: str) -> None:
        try:
            retry.until(time.monotonic() + CALL_SECONDS, lambda: (self._ensure_resumed(), call()))
        except Exception as error:
            warn(f"could not {what} ({_reason(error)}); it is kept in the job's output")

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
            update_marker(self.paths.pending_file, metrics=unsent)

    def _end(self, status: str, reason: str | None = None, flush_seconds: float | None = None) -> None:
        """Send pending points until the deadline, then end the run; what is left is marked for replay (and a
        run with work left is not called FINISHED here: whoever replays it settles it). Never raises: this is
        every exit path of the job."""
        if not self.enabled:
            return
        deadline = time.monotonic() + (self._flush_seconds() if flush_seconds is None else flush_seconds)
        unsent = self._sender.close(deadline)
        if unsent:
            update_marker(self.paths.pending_file, metrics=unsent)
        if self._sender.failed_for_good is not None:
            warn(f"the tracker refuses this job ({_reason(self._sender.failed_for_good)}); its record is in "
                 f"{self.paths.record_dir}")
            return
        left = read_marker(self.paths.pending_file)
        if left and status == "FINISHED":  # the launcher (or `smlaunch status`) replays and settles it
            warn(f"not everything reached the tracker yet ({', '.join(sorted(left))}); it is in "
                 f"{self.paths.record_dir} and is sent when the run is settled")
            self._tag_dropped(deadline)
            return

        def end() -> None:
            client = self._mlflow()
            tags = {FAILURE_TAG: failure_tag_value(reason)} if reason else {}
            if self.dropped:
                tags[DROPPED_METRICS_TAG] = dropped_tag_value(self.dropped)
            if left.get("model"):
                tags[MODEL_PENDING_TAG] = str(left["model"])
            if tags:
                from mlflow.entities import RunTag

                client.log_batch(self.run_id, tags=[RunTag(key, value) for key, value in tags.items()])
            client.set_terminated(self.run_id, status=status)

        self._guard(lambda: retry.until(max(deadline, time.monotonic() + 5), end), f"end the run {status}")

    def _tag_dropped(self, deadline: float) -> None:
        if self.dropped:
            value = dropped_tag_value(self.dropped)
            self._guard(lambda: retry.until(max(deadline, time.monotonic() + 5),
                                            lambda: self._mlflow().set_tag(self.run_id, DROPPED_METRICS_TAG, value)),
                        "tag the dropped metrics")

    def _flush_seconds(self) -> float:
        try:
            return float(os.environ.get(FLUSH_SECONDS_ENV, DEFAULT_FLUSH_SECONDS))
        except ValueError:
            return DEFAULT_FLUSH_SECONDS

    @staticmethod
    def _guard(step: Callable[[], object], what: str) -> None:
        try:
            step()
        except Exception as error:
            warn(f"could not {what}: {_reason(error)}")


def dropped_tag_value(dropped: Mapping[str, str]) -> str:
    return ", ".join(sorted(dropped))[:1000]


def held_steps(client: MlflowClient, run_id: str, keys: Any) -> dict[str, set[int]]:
    """{metric: the steps the run holds}."""
    return {key: {m.step for m in client.get_metric_history(run_id, key)} for key in keys}


def send_points(client: MlflowClient, run_id: str, points: list[Point]) -> None:
    """Log `points` to the run, in batches MLflow takes."""
    from mlflow.entities import Metric

    for start in range(0, len(points), MAX_METRICS_PER_BATCH):
        batch = points[start : start + MAX_METRICS_PER_BATCH]
        client.log_batch(run_id, metrics=[Metric(p.key, p.value, p.timestamp, p.step) for p in batch])


def log_saved_model(client: MlflowClient, tracking_uri: str, run_id: str, directory: Path, name: str) -> str:
    """Log the model saved in `directory` as the run's logged model `name`; a failed attempt leaves no PENDING or
    FAILED model entry behind (MLflow creates the entry before it uploads the files)."""
    registered = os.environ.get(REGISTER_AS_ENV) or None
    try:
        return log_saved(directory, tracking_uri, run_id, name, registered)
    except BaseException:
        with contextlib.suppress(Exception):
            discard_unfinished_models(client, run_id, name)
        raise


def discard_unfinished_models(client: MlflowClient, run_id: str, name: str) -> None:
    from mlflow.entities import LoggedModelStatus

    experiment = client.get_run(run_id).info.experiment_id
    for model in client.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'"):
        if model.name == name and model.status != LoggedModelStatus.READY:
            client.delete_logged_model(model.model_id)


def replay(paths: ContainerPaths, tracking_uri: str, run_id: str) -> dict[str, Any]:
    """Send what a job's record holds that the run does not: every journaled point it lacks, and a model left
    pending (from the job's model dir). Returns what was done; raises while the tracker cannot take it."""
    client = open_client(tracking_uri)
    points = Journal(paths.metrics_journal).read()
    run = client.get_run(run_id)
    left = missing(points, held_steps(client, run_id, {p.key for p in points}))
    refused: dict[str, str] = {}

    def note(point: Point, error: BaseException) -> None:
        refused.setdefault(point.key, _reason(error))

    skipped: set[str] = set()
    for start in range(0, len(left), MAX_METRICS_PER_BATCH):
        metrics.deliver(lambda batch: send_points(client, run_id, batch), left[start : start + MAX_METRICS_PER_BATCH],
                        note, skipped)
    update_marker(paths.pending_file, metrics=None)
    report: dict[str, Any] = {"points": len(left), "dropped": sorted(refused), "model": None}
    pending_model = read_marker(paths.pending_file).get("model")
    if pending_model and pending_model is not True:
        directory = paths.model_dir / str(pending_model)
        if directory.is_dir():
            log_saved_model(client, tracking_uri, run_id, directory, str(pending_model))
            if MODEL_PENDING_TAG in run.data.tags:
                client.delete_tag(run_id, MODEL_PENDING_TAG)
            update_marker(paths.pending_file, model=None)
            report["model"] = str(pending_model)
        else:
            report["model_missing"] = str(pending_model)
    return report


def end_if_running(environ: Mapping[str, str], reason: str) -> None:
    """End the job's run FAILED with `reason` unless it has ended already; for a host whose workers could not
    (the first host of a torchrun job, when rank 0 itself was killed). Bounded; never raises."""
    uri, run_id = environ.get(TRACKING_URI_ENV), environ.get(RUN_ID_ENV)
    if not uri or not run_id:
        return

    def end() -> None:
        client = open_client(uri)
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_tag(run_id, FAILURE_TAG, failure_tag_value(reason))
            client.set_terminated(run_id, status="FAILED")

    RunTracker._guard(lambda: retry.until(time.monotonic() + FAIL_SECONDS, end), "end the run FAILED")


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


class _AlreadySaved:
    """An MLflow "flavour" whose save_model copies a model already saved, so Model.log (which creates the
    LoggedModel, links it to the run and registers it) uploads those files instead of serializing again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save_model(self, path: str, mlflow_model: Any, **_: Any) -> None:
        from mlflow.models import Model

        shutil.copytree(self.directory, path)
        saved = Model.load(self.directory)
        for name in ("flavors", "signature", "saved_input_example_info", "model_size_bytes", "metadata"):
            if getattr(saved, name, None) is not None:
                setattr(mlflow_model, name, getattr(saved, name))
        mlflow_model.save(str(Path(path) / "MLmodel"))


def saved_flavour(directory: Path) -> str:
    """The flavour of a model saved in `directory` ('pytorch', 'sklearn' or 'pyfunc'), from its MLmodel file."""
    from mlflow.models import Model

    flavors = Model.load(directory).flavors
    return next((flavour for flavour in ("pytorch", "sklearn") if flavour in flavors), "pyfunc")


def log_saved(directory: Path, tracking_uri: str, run_id: str, name: str, registered_model_name: str | None) -> str:
    """Log the model saved in `directory` to `run_id` (at `tracking_uri`) as a logged model named `name`;
    return its model URI."""
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking.context import registry

    mlflow.set_tracking_uri(tracking_uri)
    # MLflow tags a logged model with what its context providers find (a local job runs inside the launching
    # checkout, whose git remote may carry a token): the same tags, each redacted, override theirs.
    context = {key: redact(str(value)) for key, value in registry.resolve_tags().items()}
    info = Model.log(artifact_path=None, name=name, flavor=_AlreadySaved(directory),
                     flavor_name=saved_flavour(directory), run_id=run_id, tags=context,
                     registered_model_name=registered_model_name, validate_serving_input=False)
    return str(info.model_uri)
