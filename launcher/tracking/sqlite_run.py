"""Create a run in a local sqlite MLflow store without importing mlflow, so a local job starts ≈2 s sooner.

`import mlflow` and its SQL store cost ≈2 s of CPU, and the job's host cannot start before its run exists (it
starts with MLFLOW_RUN_ID in its environment, as on SageMaker). For the common local case this module writes
the run exactly as MLflow's client would (`MlflowClient.create_run` + `log_batch` of the params): one
transaction on the store's `runs`, `tags` and `params` tables. The launcher then imports mlflow while the host
starts, for everything else it records.

It is used only when that is certain: the store exists at the schema revision the pinned MLflow writes
(`SCHEMA_REVISION`, checked against MLflow's own by the tests), workspaces are off, the experiment exists and
is active, and every key and value is within MLflow's rules (train.contract.mlflow_rules). Otherwise
`create_run` returns None and the caller uses MLflow's client, which creates the store or the experiment, or
refuses a value, as MLflow does.
tests/test_sqlite_run.py compares a run made here with one made by MLflow's client, row by row.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sqlite3
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from train.contract.mlflow_rules import RUN_NAME_COLUMN_LENGTH, param_fits, tag_fits, valid_name

SCHEMA_REVISION = "dc11669786a5"  # the alembic head of the pinned mlflow (3.17.2)
DEFAULT_WORKSPACE = "default"
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
BUSY_TIMEOUT_SECONDS = 30.0


def create_run(database: Path, experiment: str, run_name: str | None, params: Mapping[str, str],
               tags: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(run ID, experiment ID, artifact URI) of a new RUNNING run holding `params` and `tags`, or None when
    MLflow's client must do it (see the module docstring). sqlite errors also give None: the client then
    meets the same problem and reports it as MLflow does."""
    if not usable_store(database) or not _within_mlflow_rules(run_name, params, tags):
        return None
    name = run_name or tags.get(RUN_NAME_TAG) or _mlflow_random_name()
    if name is None:
        return None
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_SECONDS,
                                                isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")  # closing without COMMIT (None, or an error) rolls it all back
            created = _insert_run(db, experiment, name, params, tags)
            if created:
                db.execute("COMMIT")
            return created
    except sqlite3.Error:
        return None


def _insert_run(db: sqlite3.Connection, experiment: str, name: str, params: Mapping[str, str],
                tags: Mapping[str, str]) -> tuple[str, str, str] | None:
    if db.execute("SELECT version_num FROM alembic_version").fetchall() != [(SCHEMA_REVISION,)]:
        return None
    found = db.execute("SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
                       "WHERE name = ? AND workspace = ?", (experiment, DEFAULT_WORKSPACE)).fetchall()
    if len(found) != 1 or found[0][2] != "active" or not _local_location(found[0][1]):
        return None
    experiment_id, location = found[0][0], str(found[0][1])
    run_id = uuid.uuid4().hex
    artifact_uri = f"{location.rstrip('/')}/{run_id}/artifacts"  # MLflow's append_to_uri_path, for a local path
    db.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
               "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
               "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
               (run_id, name, tags.get(USER_TAG, "unknown"), int(time.time() * 1000), artifact_uri, experiment_id))
    all_tags = {**tags, RUN_NAME_TAG: name}
    db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                   [(key, value, run_id) for key, value in all_tags.items()])
    db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                   [(key, value, run_id) for key, value in params.items()])
    return run_id, str(experiment_id), artifact_uri


def experiment_state(database: Path, experiment: str) -> tuple[str, str] | None:
    """(lifecycle stage, ID) of an experiment in a local sqlite store, read without mlflow; None when the
    experiment is not there (or the store cannot be read this way: then MLflow's client decides)."""
    if not usable_store(database):
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            found = db.execute("SELECT lifecycle_stage, experiment_id FROM experiments WHERE name = ? AND "
                               "workspace = ?", (experiment, DEFAULT_WORKSPACE)).fetchall()
    except sqlite3.Error:
        return None
    return (str(found[0][0]), str(found[0][1])) if len(found) == 1 else None


def usable_store(database: Path) -> bool:
    """The store exists and nothing asks MLflow for workspaces (which change how experiments are found)."""
    workspaces = os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower() in ("true", "1")
    return database.is_file() and not workspaces and not os.environ.get("MLFLOW_WORKSPACE")


def _local_location(location: object) -> bool:
    """An artifact location MLflow joins as a plain POSIX path (no scheme, no query)."""
    return isinstance(location, str) and location.startswith("/") and "?" not in location and "#" not in location


def _within_mlflow_rules(run_name: str | None, params: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """Every value is one MLflow would store unchanged; anything else (a value MLflow truncates or refuses, a
    run name that contradicts the mlflow.runName tag) is left to MLflow."""
    tagged_name = tags.get(RUN_NAME_TAG)
    if run_name and tagged_name and run_name != tagged_name:
        return False
    if len(run_name or tagged_name or "") > RUN_NAME_COLUMN_LENGTH:
        return False
    return (all(valid_name(key) and isinstance(value, str) and param_fits(value) for key, value in params.items())
            and all(valid_name(key) and isinstance(value, str) and tag_fits(value) for key, value in tags.items()))


def _mlflow_random_name() -> str | None:
    """A name from MLflow's own generator (mlflow/utils/name_utils.py, stdlib only), loaded from its file so
    the mlflow package is not imported; None if it cannot be loaded."""
    try:
        package = importlib.util.find_spec("mlflow")
        locations = list(package.submodule_search_locations or []) if package else []
        if not locations:
            return None
        spec = importlib.util.spec_from_file_location("_mlflow_name_utils",
                                                      Path(locations[0]) / "utils" / "name_utils.py")
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return str(module._generate_random_name())
    except Exception:
        return None
