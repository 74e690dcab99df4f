"""The launcher's only door to MLflow: create the run, log params/tags/artifacts, end it.

mlflow is imported inside the functions (≈1.3 s), so `smlaunch validate` and `--help` never pay for it.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.errors import ExecutionError, LauncherError

if TYPE_CHECKING:
    from mlflow import MlflowClient

MLFLOW_BATCH_PARAMS = 100  # MLflow accepts at most 100 params per log_batch call
FAILURE_TAG = "launcher.failure_reason"


@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run the launcher created: ids plus the tracking URI both sides use."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    artifact_uri: str


def resolve_tracking_uri(uri: str, cwd: Path) -> str:
    """Make local store URIs absolute so a subprocess or container started elsewhere finds the same store."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str((cwd / uri[len("sqlite:///") :]).resolve())
    if "://" not in uri and not uri.startswith("databricks"):
        return (cwd / uri).resolve().as_uri()
    return uri


@cache
def _client(tracking_uri: str) -> MlflowClient:
    while _preloading:
        _preloading.pop().join()
    from mlflow import MlflowClient

    quiet_mlflow()  # after the import: importing mlflow sets its loggers' levels
    return MlflowClient(tracking_uri=tracking_uri)


_preloading: list[threading.Thread] = []


def preload_mlflow() -> None:
    """Start importing mlflow (≈1 s) in the background so it overlaps with network-bound pre-flight checks.

    Every function here calls `_client()` before touching mlflow, and `_client()` joins this thread first:
    importing one package from two threads at once can see half-initialized modules.
    """
    thread = threading.Thread(target=importlib.import_module, args=("mlflow",), daemon=True)
    thread.start()
    _preloading.append(thread)


def quiet_mlflow() -> None:
    """Keep MLflow's chatter (migrations, plugin warnings, run links on stdout) off the user's terminal and JSON."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "sagemaker_mlflow"):
        logging.getLogger(name).setLevel(logging.ERROR)


def start_run(
    tracking_uri: str, experiment: str, run_name: str | None, params: Mapping[str, str], tags: Mapping[str, str]
) -> TrackedRun:
    """Create (or reuse) the experiment and a new RUNNING run holding every param and tag.

    On plain http(s) servers this goes over REST without importing mlflow (see tracking_rest).
    """
    from launcher import tracking_rest  # imported here: `smlaunch validate` needs neither it nor ssl/urllib

    if tracking_rest.handles(tracking_uri):
        run_id, experiment_id, artifact_uri = tracking_rest.start_run(tracking_uri, experiment, run_name, params,
                                                                      tags)
        return TrackedRun(run_id, experiment_id, tracking_uri, artifact_uri)
    client = _client(tracking_uri)
    from mlflow.entities import Param

    try:
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        run = client.create_run(experiment_id, tags=dict(tags), run_name=run_name)
    except Exception as error:  # MLflow raises many types for an unreachable or broken store
        raise ExecutionError(f"cannot create an MLflow run at {tracking_uri}: {error}") from error
    run_id = run.info.run_id
    items = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(items), MLFLOW_BATCH_PARAMS):
        client.log_batch(run_id, params=items[start : start + MLFLOW_BATCH_PARAMS])
    return TrackedRun(run_id, experiment_id, tracking_uri, str(run.info.artifact_uri))


def log_directory(run: TrackedRun, directory: Path, artifact_path: str) -> None:
    """Log everything under `directory` to the run's `artifact_path`, in one call."""
    _client(run.tracking_uri).log_artifacts(run.run_id, str(directory), artifact_path)


def set_tags(run: TrackedRun, tags: Mapping[str, str]) -> None:
    client = _client(run.tracking_uri)
    from mlflow.entities import RunTag

    client.log_batch(run.run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def run_status(run: TrackedRun) -> str:
    """RUNNING, FINISHED, FAILED or KILLED."""
    return str(_client(run.tracking_uri).get_run(run.run_id).info.status)


def end_run(run: TrackedRun, status: str, reason: str | None = None) -> None:
    """End the run with `status`; a failure reason is recorded as a tag the UI shows."""
    client = _client(run.tracking_uri)
    if reason:
        client.set_tag(run.run_id, FAILURE_TAG, reason[:5000])
    client.set_terminated(run.run_id, status=status)


def local_store_paths(tracking_uri: str, artifact_dir: str | None) -> tuple[str, ...]:
    """Directories of a local store a container must see at their own path: the sqlite file's directory and
    `artifact_dir` (an experiment's artifact directory, where its runs and logged models live). Empty for servers."""
    paths = []
    if tracking_uri.startswith("sqlite:///"):
        paths.append(str(Path(tracking_uri[len("sqlite:///") :]).parent))
    if artifact_dir and artifact_dir.removeprefix("file://").startswith("/"):
        paths.append(artifact_dir.removeprefix("file://"))
    return tuple(dict.fromkeys(paths))


def experiment_artifact_dir(run: TrackedRun) -> str:
    """<experiment dir> from the run's `<experiment dir>/<run id>/artifacts` URI."""
    return str(Path(run.artifact_uri.removeprefix("file://")).parent.parent)


def run_url(run: TrackedRun) -> str | None:
    """The run's page in the MLflow UI, when the tracking URI is a server."""
    if run.tracking_uri.startswith(("http://", "https://")):
        return f"{run.tracking_uri.rstrip('/')}/#/experiments/{run.experiment_id}/runs/{run.run_id}"
    return None


def download_artifact(tracking_uri: str, run_id: str, path: str, destination: Path) -> Path:
    """Download one artifact of a run into `destination`; returns the local file."""
    client = _client(tracking_uri)
    return Path(client.download_artifacts(run_id, path, str(destination)))


def get_run(tracking_uri: str, run_id: str) -> Any:
    """The mlflow Run entity (info, data, inputs); raises LauncherError when the run does not exist."""
    client = _client(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as error:
        raise LauncherError(f"run {run_id} not found at {tracking_uri}: {error.message}") from error


def log_text(run: TrackedRun, text: str, artifact_file: str) -> None:
    _client(run.tracking_uri).log_text(run.run_id, text, artifact_file)


def log_datasets(run: TrackedRun, datasets: Iterable[tuple[str, str, str, str]]) -> None:
    """Record input datasets (name, digest, source type, source JSON) as the run's inputs (MLflow's data view)."""
    client = _client(run.tracking_uri)
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = [DatasetInput(Dataset(name, digest, source_type, source), [InputTag("mlflow.data.context", name)])
              for name, digest, source_type, source in datasets]
    if inputs:
        client.log_inputs(run.run_id, datasets=inputs)
