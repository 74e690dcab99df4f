"""A run written straight into a local sqlite store (no mlflow import) is the run MLflow's client would write.

Real stores: each test creates its sqlite store with MLflow itself, makes one run with MLflow's client and one
with `sqlite_run`, and compares them row by row and through MLflow's own reads; every case the direct path
must leave to MLflow is caused for real and shown to write nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from launcher.tracking import client, sqlite_run

REPO = Path(__file__).resolve().parent.parent
PARAMS = {f"train.p{i}": str(i) for i in range(150)} | {"train.model.hidden_sizes": "[64, 32]", "job.note": "x" * 6000}
TAGS = {"mlflow.user": "someone", "mlflow.source.type": "JOB", "launcher.mode": "local-process",
        "mlflow.note.content": "a note\nwith lines: and 'quotes'"}
RUN_COLUMNS = ("name", "source_type", "source_name", "entry_point_name", "user_id", "status", "end_time",
               "source_version", "lifecycle_stage", "experiment_id", "deleted_time")


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, str]:
    """A sqlite store created and migrated by MLflow, holding the experiment `exp`."""
    from mlflow import MlflowClient

    database = tmp_path / "mlflow.db"
    uri = f"sqlite:///{database}"
    MlflowClient(tracking_uri=uri).create_experiment("exp", artifact_location=str(tmp_path / "artifacts"))
    return database, uri


def _by_mlflow(uri: str, run_name: str | None) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Param

    mlflow_client = MlflowClient(tracking_uri=uri)
    experiment = mlflow_client.get_experiment_by_name("exp")
    assert experiment is not None
    run = mlflow_client.create_run(experiment.experiment_id, tags=TAGS, run_name=run_name)
    items = [Param(key, value) for key, value in PARAMS.items()]
    for start in range(0, len(items), 100):
        mlflow_client.log_batch(run.info.run_id, params=items[start:start + 100])
    return str(run.info.run_id)


def _rows(database: Path, run_id: str) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        run = db.execute(f"SELECT {', '.join(RUN_COLUMNS)}, artifact_uri FROM runs WHERE run_uuid = ?",
                         (run_id,)).fetchone()
        tags = dict(db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)).fetchall())
        params = dict(db.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,)).fetchall())
    return {"run": dict(zip(RUN_COLUMNS, run[:-1], strict=True)), "artifact_uri": run[-1].replace(run_id, "<id>"),
            "tags": tags, "params": params}


def _run_count(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM runs").fetchone()[0])


def test_the_schema_revision_is_the_one_the_pinned_mlflow_writes() -> None:
    from mlflow.store.db.utils import _get_latest_schema_revision

    assert _get_latest_schema_revision() == sqlite_run.SCHEMA_REVISION


def test_a_named_run_has_the_rows_mlflows_client_writes(store: tuple[Path, str]) -> None:
    database, uri = store
    expected = _rows(database, _by_mlflow(uri, "by-name"))
    created = sqlite_run.create_run(database, "exp", "by-name", PARAMS, TAGS)
    assert created is not None
    run_id, experiment_id, artifact_uri = created
    assert _rows(database, run_id) == expected
    assert artifact_uri == expected["artifact_uri"].replace("<id>", run_id)
    assert experiment_id == str(expected["run"]["experiment_id"])


def test_an_unnamed_run_gets_a_name_from_mlflows_generator(store: tuple[Path, str]) -> None:
    from mlflow import MlflowClient

    database, uri = store
    expected = _rows(database, _by_mlflow(uri, None))
    created = sqlite_run.create_run(database, "exp", None, PARAMS, TAGS)
    assert created is not None
    found = _rows(database, created[0])
    pattern = r"[a-z]+-[a-z]+-\d+"  # MLflow's adjective-noun-number
    assert re.fullmatch(pattern, expected["run"]["name"]) and re.fullmatch(pattern, found["run"]["name"])
    name = found["run"]["name"]
    assert found["tags"]["mlflow.runName"] == name
    assert MlflowClient(tracking_uri=uri).get_run(created[0]).info.run_name == name
    for rows in (found, expected):
        rows["run"].pop("name"), rows["tags"].pop("mlflow.runName")
    assert found == expected


def test_mlflow_reads_searches_and_continues_a_directly_written_run(store: tuple[Path, str]) -> None:
    from mlflow import MlflowClient

    database, uri = store
    created = sqlite_run.create_run(database, "exp", "direct", PARAMS, TAGS)
    assert created is not None
    mlflow_client = MlflowClient(tracking_uri=uri)
    run = mlflow_client.get_run(created[0])
    assert (run.info.status, run.info.run_name, run.info.user_id) == ("RUNNING", "direct", "someone")
    assert run.data.params == PARAMS
    assert {key: run.data.tags[key] for key in TAGS} == TAGS
    found = mlflow_client.search_runs([created[1]], filter_string="params.`train.p7` = '7' and tags.`launcher.mode` "
                                      "= 'local-process'")
    assert [r.info.run_id for r in found] == [created[0]]
    mlflow_client.log_metric(created[0], "loss", 0.5, step=1)
    mlflow_client.set_terminated(created[0], "FINISHED")
    assert mlflow_client.get_run(created[0]).info.status == "FINISHED"
    described = subprocess.run([sys.executable, "-m", "mlflow", "runs", "describe", "--run-id", created[0]],
                               env={"MLFLOW_TRACKING_URI": uri, "PATH": "/usr/bin:/bin"}, capture_output=True,
                               text=True, timeout=120, check=True)
    assert json.loads(described.stdout)["data"]["params"]["train.model.hidden_sizes"] == "[64, 32]"


def _deleted_experiment(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.execute("UPDATE experiments SET lifecycle_stage = 'deleted' WHERE name = 'exp'")


def _other_revision(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f0000000000a'")


def _remote_artifacts(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.execute("UPDATE experiments SET artifact_location = 's3://bucket/exp' WHERE name = 'exp'")


@pytest.mark.parametrize(("case", "experiment", "params", "tags", "run_name", "env", "change"), [
    ("a new experiment", "other", {}, {}, "n", {}, None),
    ("a deleted experiment", "exp", {}, {}, "n", {}, _deleted_experiment),
    ("another schema revision", "exp", {}, {}, "n", {}, _other_revision),
    ("artifacts kept elsewhere", "exp", {}, {}, "n", {}, _remote_artifacts),
    ("a param MLflow would truncate", "exp", {"p": "x" * 6001}, {}, "n", {}, None),
    ("a tag MLflow would truncate", "exp", {}, {"t": "x" * 8001}, "n", {}, None),
    ("a key with a refused character", "exp", {"a!b": "1"}, {}, "n", {}, None),
    ("a key that is not one path", "exp", {"a/../b": "1"}, {}, "n", {}, None),
    ("a run name the tag contradicts", "exp", {}, {"mlflow.runName": "x"}, "y", {}, None),
    ("workspaces on", "exp", {}, {}, "n", {"MLFLOW_ENABLE_WORKSPACES": "true"}, None),
])
def test_what_mlflow_must_decide_is_left_to_mlflow_and_nothing_is_written(
        store: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, case: str, experiment: str,
        params: dict[str, str], tags: dict[str, str], run_name: str, env: dict[str, str], change: Any) -> None:
    database, _ = store
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if change is not None:
        change(database)
    assert sqlite_run.create_run(database, experiment, run_name, params, tags) is None, case
    assert _run_count(database) == 0


def test_a_missing_or_broken_store_is_left_to_mlflow(tmp_path: Path) -> None:
    assert sqlite_run.create_run(tmp_path / "none.db", "exp", "n", {}, {}) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    assert sqlite_run.create_run(garbage, "exp", "n", {}, {}) is None
    with pytest.raises(client.TrackingError):
        client.start_run(f"sqlite:///{garbage}", "exp", "n", {}, {})


def test_the_launcher_creates_a_local_run_without_importing_mlflow(store: tuple[Path, str]) -> None:
    """The point of it: `start_run` on an existing store returns before mlflow is imported."""
    from mlflow import MlflowClient

    _, uri = store
    script = ("import json, sys\nfrom launcher.tracking import client\n"
              f"run = client.start_run({uri!r}, 'exp', None, {{'a': '1'}}, {{'mlflow.user': 'me'}})\n"
              "print(json.dumps([run.run_id, run.artifact_uri, 'mlflow' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=True)
    run_id, artifact_uri, imported = json.loads(done.stdout)
    assert imported is False
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert (run.data.params, run.info.user_id, run.info.artifact_uri) == ({"a": "1"}, "me", artifact_uri)


def test_parallel_launches_each_get_their_own_run(store: tuple[Path, str]) -> None:
    database, uri = store
    script = ("from launcher.tracking import client\n"
              f"print(client.start_run({uri!r}, 'exp', None, {{'a': '1'}}, {{}}).run_id)")
    started = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
               for _ in range(4)]
    run_ids = {process.communicate(timeout=120)[0].strip() for process in started}
    assert all(process.returncode == 0 for process in started)
    assert len(run_ids) == 4 and _run_count(database) == 4
