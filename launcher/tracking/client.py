"""The launcher's only door to MLflow: create the run, log params/tags/artifacts, read it back, end it.

MLflow's own client does every call, so auth (token, basic, ~/.mlflow/credentials, SigV4, TLS settings,
plugins), retries and user attribution are exactly MLflow's. The one exception: a run in an existing local sqlite
store is created by `sqlite_run`, exactly as MLflow would write it, without importing mlflow, so a local job
starts ≈2 s sooner. mlflow is imported inside the functions (≈1.3 s, and ≈0.7 s more for a SQL store), so
`smlaunch validate` and `--help` never pay for it; `preload_mlflow` overlaps that import with other work.

Reading a run never creates a store: a sqlite file that does not exist is an error, not an empty database.
A new sqlite store is created (and migrated) under a file lock, so parallel first launches do not race.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.config import tracking_uri
from launcher.core.errors import ExecutionError
from launcher.tracking import sqlite_run
from train.contract.handover import FAILURE_TAG, PARENT_TAG, failure_tag_value, quiet_mlflow
from train.contract.mlflow_rules import MAX_PARAMS_TAGS_PER_BATCH
from train.contract.startup import imports_without_gc
from train.contract.uris import redact

if TYPE_CHECKING:
    from mlflow import MlflowClient

DATASET_ATTEMPTS = 3
NOTE_TAG = "mlflow.note.content"
# MLflow's own retries for every call the launcher makes, bounded (its default waits about 4 minutes for a
# server that is down): a refused connection, a dropped one, 408/429/5xx are retried 4 times, 0-8 s apart.
# The user's own MLFLOW_HTTP_REQUEST_* settings win.
HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}

PREFLIGHT_RETRIES = {"max_retries": 1, "backoff_factor": 0.5}  # a question asked before anything is created
_USERS_OWN_RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in os.environ  # read before HTTP_SETTINGS fill it in


class TrackingError(ExecutionError):
    """MLflow refused or could not be reached; the message names the store (credentials redacted)."""


@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run the launcher created or found: IDs plus the tracking URI both sides use."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    artifact_uri: str = ""


_preloading: list[threading.Thread] = []


CLIENT_MODULES = ("mlflow",)
SQL_STORE_MODULES = ("mlflow.store.tracking.sqlalchemy_store",)  # ≈0.7 s more; servers are talked to over REST


def _modules_for(uri: str | None) -> tuple[str, ...]:
    rest = uri is not None and tracking_uri.kind(uri) in (tracking_uri.UriKind.SERVER, tracking_uri.UriKind.MANAGED)
    return CLIENT_MODULES if rest else CLIENT_MODULES + SQL_STORE_MODULES


def _import_all(names: tuple[str, ...]) -> None:
    with imports_without_gc():  # ≈0.5 s faster; the main thread goes on meanwhile, without the GC for a while
        for name in names:
            importlib.import_module(name)


def _start_importing(names: tuple[str, ...]) -> None:
    """Import `names` in a background thread, once. `_open()` joins it before touching mlflow: importing one
    package from two threads at once can see half-initialized modules."""
    if _preloading or "mlflow" in sys.modules:
        return
    thread = threading.Thread(target=_import_all, args=(names,), daemon=True)
    thread.start()
    _preloading.append(thread)


def preload_mlflow(uri: str | None = None) -> None:
    """Start importing what a launch recording to `uri` needs (mlflow, and its SQL store unless `uri` is a
    server) in the background, so it overlaps with config validation, git and the pre-flight's network calls.
    Nothing for a local sqlite store the run can be written to directly (`sqlite_run`): importing early would
    only slow down the job's start; mlflow is imported once the job has started, for the rest of the record."""
    if not _writes_runs_directly(uri):
        _start_importing(_modules_for(uri))


def _writes_runs_directly(uri: str | None) -> bool:
    """True for an existing local sqlite store that `sqlite_run` can write a run to without mlflow."""
    database = tracking_uri.sqlite_file(uri) if uri else None
    return database is not None and sqlite_run.usable_store(database)


def describe_error(error: BaseException, uri: str) -> str:
    """A one-line reason for an MLflow failure, with the advice a user needs for the common ones."""
    shown = redact(uri)
    text = str(getattr(error, "message", None) or error).strip().splitlines()[0] if str(error).strip() else ""
    code = str(getattr(error, "error_code", ""))
    if "401" in text or code == "UNAUTHENTICATED":
        return (f"MLflow at {shown} refused the credentials (401): set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN, or ~/.mlflow/credentials)")
    if "403" in text or code == "PERMISSION_DENIED":
        return f"MLflow at {shown} denied access (403): ask for permission on this experiment"
    if "error responses" in text:  # urllib3 gave up retrying status codes
        return f"MLflow at {shown} keeps answering with server errors ({text.split('(Caused by')[-1][:80]})"
    if any(marker in text for marker in ("Max retries exceeded", "Connection refused", "NewConnectionError")):
        return f"cannot reach MLflow at {shown}: is the server running, and is tracking.uri right?"
    if "invalid url" in text.lower():
        return f"cannot reach MLflow at {shown}: not a URL it can connect to (check tracking.uri's host and port)"
    return f"MLflow at {shown}: {text or type(error).__name__}"


@contextlib.contextmanager
def _mlflow_errors(uri: str) -> Iterator[None]:
    """Turn whatever MLflow raises (many types for auth, network and store problems) into a TrackingError."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as error:
        raise TrackingError(describe_error(error, uri)) from error


@cache
def _open(uri: str) -> MlflowClient:
    _start_importing(_modules_for(uri))  # in that thread even now: a Ctrl-C during it cannot leave half a module
    for thread in _preloading:
        thread.join()
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    from mlflow import MlflowClient

    quiet_mlflow()
    return MlflowClient(tracking_uri=uri)


def _client(uri: str, create: bool = False) -> MlflowClient:
    """The client for `uri`. A missing sqlite store is refused unless `create`; a sqlite store is first opened
    (created and migrated, if new) under a lock on its directory, so parallel first launches do not race."""
    database = tracking_uri.sqlite_file(uri)
    if database is None or uri in _opened_stores:
        with _mlflow_errors(uri):
            return _open(uri)
    if not database.exists():
        if not create:
            raise TrackingError(f"no MLflow store at {database}: check --tracking-uri (or MLFLOW_TRACKING_URI)")
        database.parent.mkdir(parents=True, exist_ok=True)
    directory = os.open(database.parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)  # released when the descriptor closes
        with _mlflow_errors(uri):
            client = _open(uri)
            client.search_experiments(max_results=1)  # creates and migrates a new store, here, under the lock
    finally:
        os.close(directory)
    _opened_stores.add(uri)
    return client


_opened_stores: set[str] = set()


def start_run(uri: str, experiment: str, run_name: str | None, params: Mapping[str, str],
              tags: Mapping[str, str]) -> TrackedRun:
    """Create (or reuse) the experiment and a new RUNNING run holding every param and tag. In an existing local
    sqlite store the run is written without importing mlflow (sqlite_run), when that is exactly what MLflow's
    client would write; mlflow is then first imported for what the launcher records once the job has started."""
    database = tracking_uri.sqlite_file(uri)
    created = sqlite_run.create_run(database, experiment, run_name, params, tags) if database else None
    if created is not None:
        run_id, experiment_id, artifact_uri = created
        return TrackedRun(run_id, experiment_id, uri, artifact_uri)
    client = _client(uri, create=True)
    from mlflow.entities import Param

    with _mlflow_errors(uri):
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else _create_experiment(client, experiment)
        run = client.create_run(experiment_id, tags=dict(tags), run_name=run_name)
        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
            client.log_batch(run.info.run_id, params=items[start : start + MAX_PARAMS_TAGS_PER_BATCH])
    return TrackedRun(run.info.run_id, experiment_id, uri, str(run.info.artifact_uri))


def _create_experiment(client: MlflowClient, name: str) -> str:
    """Create `name`; if a parallel launch created it first, use theirs."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.create_experiment(name))
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def log_directory(run: TrackedRun, directory: Path, artifact_path: str) -> None:
    """Log everything under `directory` to the run's `artifact_path`, in one call."""
    with _mlflow_errors(run.tracking_uri):
        _client(run.tracking_uri).log_artifacts(run.run_id, str(directory), artifact_path)


def log_file(run: TrackedRun, path: Path, artifact_path: str) -> None:
    with _mlflow_errors(run.tracking_uri):
        _client(run.tracking_uri).log_artifact(run.run_id, str(path), artifact_path)


def set_tags(run: TrackedRun, tags: Mapping[str, str]) -> None:
    client = _client(run.tracking_uri)
    from mlflow.entities import RunTag

    items = [RunTag(key, value) for key, value in tags.items()]
    with _mlflow_errors(run.tracking_uri):
        for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
            client.log_batch(run.run_id, tags=items[start : start + MAX_PARAMS_TAGS_PER_BATCH])


def log_metrics(run: TrackedRun, values: Mapping[str, float], step: int) -> None:
    """Log a few metrics at `step`, in one call."""
    import time

    from mlflow.entities import Metric

    client = _client(run.tracking_uri)
    now = int(time.time() * 1000)
    with _mlflow_errors(run.tracking_uri):
        client.log_batch(run.run_id, metrics=[Metric(key, float(value), now, step) for key, value in values.items()])


def child_runs(run: TrackedRun) -> list[Any]:
    """The runs nested under `run` (tagged mlflow.parentRunId), in its experiment."""
    client = _client(run.tracking_uri)
    with _mlflow_errors(run.tracking_uri):
        return list(client.search_runs([run.experiment_id], max_results=5000,
                                       filter_string=f"tags.`{PARENT_TAG}` = '{run.run_id}'"))


def experiment_state(uri: str, name: str) -> tuple[str, str] | None:
    """(lifecycle stage: active or deleted, ID) of the experiment `name`, or None when it does not exist (a
    store that does not exist yet has none). A local sqlite store is read without importing mlflow."""
    database = tracking_uri.sqlite_file(uri)
    if database is not None:
        if not database.exists():
            return None
        found = sqlite_run.experiment_state(database, name)
        if found is not None or sqlite_run.usable_store(database):
            return found
    client = _client(uri)
    with _mlflow_errors(uri):
        experiment = client.get_experiment_by_name(name)
    return (str(experiment.lifecycle_stage), str(experiment.experiment_id)) if experiment else None


def find_runs(uri: str, filter_string: str | None, limit: int, experiment: str | None = None) -> list[Any]:
    """Runs of the store (of `experiment` only, when given) matching `filter_string`, newest first."""
    client = _client(uri)
    with _mlflow_errors(uri):
        if experiment is not None:
            found = client.get_experiment_by_name(experiment)
            ids = [found.experiment_id] if found else []
        else:
            ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
        if not ids:
            return []
        return list(client.search_runs(ids, filter_string=filter_string or "", max_results=limit,
                                       order_by=["attributes.start_time DESC"]))


def set_running(run: TrackedRun) -> None:
    """Mark an ended run RUNNING again (a resumed sweep's parent), without the reason it ended the last time."""
    client = _client(run.tracking_uri)
    with _mlflow_errors(run.tracking_uri):
        if FAILURE_TAG in client.get_run(run.run_id).data.tags:
            client.delete_tag(run.run_id, FAILURE_TAG)
        client.update_run(run.run_id, status="RUNNING")


def run_status(run: TrackedRun) -> str:
    """RUNNING, FINISHED, FAILED or KILLED."""
    return str(get_run(run.tracking_uri, run.run_id).info.status)


def add_to_note(run: TrackedRun, text: str) -> None:
    """Append a paragraph to the run's description (mlflow.note.content), where the UI shows it first."""
    client = _client(run.tracking_uri)
    with _mlflow_errors(run.tracking_uri):
        note = client.get_run(run.run_id).data.tags.get(NOTE_TAG, "")
        client.set_tag(run.run_id, NOTE_TAG, f"{note}\n\n{text}".strip())


def end_run(run: TrackedRun, status: str, reason: str | None = None) -> None:
    """End the run with `status`; a failure reason is recorded as a tag the UI shows."""
    client = _client(run.tracking_uri)
    with _mlflow_errors(run.tracking_uri):
        if reason:
            client.set_tag(run.run_id, FAILURE_TAG, failure_tag_value(reason))
        client.set_terminated(run.run_id, status=status)


def experiment_artifact_dir(run: TrackedRun) -> str:
    """<experiment dir> from the run's `<experiment dir>/<run id>/artifacts` URI."""
    return str(Path(run.artifact_uri.removeprefix("file://")).parent.parent)


def run_url(run: TrackedRun) -> str | None:
    """The run's page in the MLflow UI, when the tracking URI is a server."""
    if tracking_uri.is_server(run.tracking_uri):
        base = redact(run.tracking_uri).rstrip("/")
        return f"{base}/#/experiments/{run.experiment_id}/runs/{run.run_id}"
    return None


def download_artifact(uri: str, run_id: str, path: str, destination: Path) -> Path:
    """Download one artifact (a file, or a directory and all it holds) of a run into `destination`; returns
    the local path. A store whose artifacts are not where it says (a copied store) is said so."""
    client = _client(uri)
    with _mlflow_errors(uri):
        try:
            return Path(client.download_artifacts(run_id, path, str(destination)))
        except Exception as error:
            raise TrackingError(_missing_artifacts(uri, run_id, path, error)) from error


def _missing_artifacts(uri: str, run_id: str, path: str, error: Exception) -> str:
    """Why an artifact could not be downloaded, with what to do when the store was copied from elsewhere (its
    runs name artifact directories on the machine that wrote them)."""
    location = str(get_run(uri, run_id).info.artifact_uri)
    local = location.removeprefix("file://")
    if location.startswith(("/", "file:")) and not Path(local).exists():
        return (f"the artifacts of run {run_id} were written to {location}, which is not on this machine (a store "
                "copied from elsewhere keeps its artifact paths): copy that directory to the same path here, or "
                "serve the store with `mlflow server --artifacts-destination` and use its URL")
    return f"cannot download {path} of run {run_id} from {redact(uri)}: {describe_error(error, uri)}"


def get_run(uri: str, run_id: str) -> Any:
    """The mlflow Run entity (info, data, inputs); a TrackingError says why when it cannot be read."""
    client = _client(uri)
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as error:
        if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(error).lower():
            raise TrackingError(f"run {run_id} not found at {redact(uri)}") from error
        raise TrackingError(describe_error(error, uri)) from error
    except Exception as error:
        raise TrackingError(describe_error(error, uri)) from error


def log_text(run: TrackedRun, text: str, artifact_file: str) -> None:
    with _mlflow_errors(run.tracking_uri):
        _client(run.tracking_uri).log_text(run.run_id, text, artifact_file)


def log_datasets(run: TrackedRun, datasets: Iterable[tuple[str, str, str, str]]) -> None:
    """Record input datasets (name, digest, source type, source JSON) as the run's inputs (MLflow's data view)."""
    client = _client(run.tracking_uri)
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = [DatasetInput(Dataset(name, digest, source_type, source), [InputTag("mlflow.data.context", name)])
              for name, digest, source_type, source in datasets]
    if not inputs:
        return
    with _mlflow_errors(run.tracking_uri):
        for attempt in range(DATASET_ATTEMPTS):
            try:
                client.log_inputs(run.run_id, datasets=inputs)
                return
            except Exception as error:
                # MLflow's stores look a dataset up, then insert it: two launches logging the same data at once
                # (a sweep's trials) can both miss it, and the second insert breaks the unique key. The dataset
                # exists now, so the next attempt links it.
                if "unique" not in str(error).lower() or attempt == DATASET_ATTEMPTS - 1:
                    raise


def http_status(uri: str, endpoint: str, anonymous: bool = False, **params: str) -> int:
    """The HTTP status of a GET on an MLflow server, through MLflow's own HTTP layer: its TLS settings, its
    retries, and its credentials (env, ~/.mlflow/credentials), or none with `anonymous` (what a job without
    credentials would get). A server that cannot be reached at all is a TrackingError. A pre-flight question:
    one retry, not the ≈15 s of retries a run's calls get (unless MLFLOW_HTTP_REQUEST_MAX_RETRIES says)."""
    _open(uri)  # joins the preloading import
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    creds = get_default_host_creds(uri)  # type: ignore[no-untyped-call]
    if anonymous:
        creds = MlflowHostCreds(uri, ignore_tls_verification=creds.ignore_tls_verification,  # type: ignore[no-untyped-call]
                                client_cert_path=creds.client_cert_path, server_cert_path=creds.server_cert_path)
    try:
        retries = {} if _USERS_OWN_RETRIES else PREFLIGHT_RETRIES
        response = http_request(creds, endpoint, "GET", params=params or None, raise_on_status=False,  # type: ignore[no-untyped-call]
                                **retries)
    except Exception as error:
        raise TrackingError(describe_error(error, uri)) from error
    return int(response.status_code)
