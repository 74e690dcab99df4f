"""The rough edges a newcomer bringing a small tabular task of their own ran into, each shown fixed: located
errors in a task's schema, defaults checked, their task's run not waiting for the example's data, the launcher's
docs free of their task, sweep output as people read it, one traceback, a well-formed model, YAML 1.1 booleans
said, and a copied store that says where its artifacts went."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO, Project

TABULAR_TASK = '''
def run(ctx):
    scores = {"adam": 0.5, "sgd": 0.25, "rmsprop": 0.75}
    ctx.tracker.log_metrics({"best_val_rmse": scores[ctx.config["optimizer"]]}, step=1)
'''
TABULAR_SCHEMA = {
    "title": "tabular", "type": "object", "x-metrics": ["best_val_rmse"], "additionalProperties": False,
    "properties": {"task": {"type": "string"},
                   "optimizer": {"type": "string", "enum": ["adam", "sgd", "rmsprop"], "default": "adam"},
                   "depth": {"type": "integer", "minimum": 1, "default": 3}}}


def tabular(project: Project, schema_text: str | None = None) -> None:
    project.write("train/tabular/__init__.py", "")
    project.write("train/tabular/task.py", TABULAR_TASK)
    project.write("train/tabular/config.schema.json", schema_text or json.dumps(TABULAR_SCHEMA, indent=2))
    project.write("configs/train/tabular.yaml", "task: train.tabular.task:run\n")
    job = (project.root / "configs/local.yaml").read_text().replace("train/digits.yaml", "train/tabular.yaml")
    project.write("configs/tabular.yaml", job)


def test_a_task_schema_that_is_not_json_is_located(project: Project) -> None:
    broken = json.dumps(TABULAR_SCHEMA, indent=2).replace('"depth": {', '"depth": {,', 1)
    tabular(project, broken)
    line = next(number for number, text in enumerate(broken.splitlines(), 1) if '"depth": {,' in text)
    result = project.smlaunch("validate", "configs/tabular.yaml")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f"train/tabular/config.schema.json:{line}:" in result.stderr, result.stderr


def test_a_default_the_schema_itself_refuses_is_named(project: Project) -> None:
    schema = json.loads(json.dumps(TABULAR_SCHEMA))
    schema["properties"]["depth"]["default"] = 0  # below its own minimum
    tabular(project, json.dumps(schema, indent=2))
    result = project.smlaunch("validate", "configs/tabular.yaml")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "depth" in result.stderr and "default" in result.stderr, result.stderr


def test_a_schema_that_passed_is_not_checked_again_until_it_changes(project: Project, tmp_path: Path) -> None:
    """Checking a task schema against the meta-schema costs most of a second at 1,000 fields: a schema that
    passed is remembered (in the user's cache, by digest) and checked again only once its text changes."""
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    tabular(project, json.dumps(TABULAR_SCHEMA, indent=2))
    assert project.smlaunch("validate", "configs/tabular.yaml", env=cache).code == 0
    (verdict,) = (tmp_path / "cache/smlaunch/checked-schemas").iterdir()
    assert verdict.stat().st_size == 0 and verdict.stat().st_mode & 0o777 == 0o600
    assert project.smlaunch("validate", "configs/tabular.yaml", env=cache).code == 0  # taken from the cache
    schema = json.loads(json.dumps(TABULAR_SCHEMA))
    schema["properties"]["depth"]["default"] = 0  # the same schema, edited: checked again, and refused
    tabular(project, json.dumps(schema, indent=2))
    refused = project.smlaunch("validate", "configs/tabular.yaml", env=cache)
    assert refused.code == 2 and "depth" in refused.stderr and "default" in refused.stderr, refused.stderr
    assert len(list((tmp_path / "cache/smlaunch/checked-schemas").iterdir())) == 1  # a refusal is not kept


def test_make_run_waits_for_the_example_data_only_for_configs_that_read_it(tmp_path: Path) -> None:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    for name in ("requirements.lock", "pyproject.toml"):  # what the venv target depends on
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "configs/mine.yaml").write_text("experiment: mine\nmode: local-process\n"
                                                "training_config: train/mine.yaml\n")

    def planned(config: str) -> str:
        done = subprocess.run(["make", "-n", "run", f"CONFIG={config}"], cwd=tmp_path, capture_output=True,
                              text=True, check=True)
        return done.stdout

    assert "train.digits.prepare" in planned("configs/local.yaml")
    assert "train.digits.prepare" not in planned("configs/mine.yaml")


def test_the_launchers_docs_document_the_example_not_the_teams_task(project: Project) -> None:
    tabular(project)
    result = project.smlaunch("schema", "--markdown")
    assert result.code == 0
    assert "digits" in result.stdout and "tabular" not in result.stdout


def test_sweep_output_reads_as_typed_and_marks_the_winner(project: Project) -> None:
    tabular(project)
    project.write("configs/sweeps/tabular.yaml", """\
config: ../tabular.yaml
strategy: grid
max_parallel: 1
objective: {metric: best_val_rmse, goal: minimize}
parameters:
  train.optimizer: {values: [adam, sgd, rmsprop]}
""")
    result = project.smlaunch("sweep", "configs/sweeps/tabular.yaml")
    assert result.code == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert any("train.optimizer=sgd" in line and line.endswith("<- best") for line in lines), result.stderr
    assert '"sgd"' not in result.stderr and "best_best" not in result.stderr
    runs = project.runs()
    (parent,) = [run for run in runs if run.data.tags.get("launcher.sweep") == "parent"]
    assert parent.data.metrics["best_val_rmse"] == 0.25 and "best_best_val_rmse" not in parent.data.metrics
    note = parent.data.tags["mlflow.note.content"]
    assert f"--tracking-uri {project.tracking_uri}" in note


def test_a_failing_task_prints_its_traceback_once(project: Project) -> None:
    tabular(project)
    project.write("train/tabular/task.py", "def run(ctx):\n    raise ValueError('no such column: price')\n")
    result = project.smlaunch("run", "configs/tabular.yaml")
    assert result.code == 1
    assert result.stderr.count("Traceback (most recent call last)") == 1, result.stderr
    assert result.stderr.count("ValueError: no such column: price") >= 1
    (run,) = project.runs()
    assert run.info.status == "FAILED" and run.data.tags["launcher.failure_reason"] == \
        "ValueError: no such column: price"


def test_a_yaml_1_1_boolean_is_read_as_meant_and_said(project: Project) -> None:
    config = project.root / "configs/local.yaml"
    text = config.read_text()
    assert "assume_reachable" not in text
    config.write_text(text.replace("tracking:\n", "tracking:\n  assume_reachable: yes\n", 1))
    line = next(n for n, t in enumerate(config.read_text().splitlines(), 1) if "assume_reachable: yes" in t)
    result = project.smlaunch("validate", "configs/local.yaml")
    assert result.code == 0, result.stderr
    assert f"configs/local.yaml:{line}:" in result.stderr and "'yes' read as true" in result.stderr
    config.write_text(text.replace("tracking:\n", "tracking:\n  assume_reachable: maybe\n", 1))
    assert project.smlaunch("validate", "configs/local.yaml").code == 2  # not a boolean in any YAML


def test_a_model_is_well_formed_and_a_copied_store_says_where_its_artifacts_went(project: Project,
                                                                                 tmp_path: Path) -> None:
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=1")
    assert result.code == 0, result.stderr[-2000:]
    run_id = result.json()["run_id"]
    job = project.root / ".smlaunch/jobs" / result.json()["job_name"]
    requirements = (job / "algo-1/model/model/requirements.txt").read_text()
    assert requirements.endswith("\n") and not requirements.endswith("\n\n") and "torch==" in requirements
    elsewhere = tmp_path / "teammate"
    elsewhere.mkdir()
    shutil.copy(project.db, elsewhere / "mlflow.db")  # the store alone, as people copy it
    moved = project.root / "mlruns"
    shutil.move(moved, tmp_path / "mlruns-moved")  # the artifacts are no longer where the store says
    again = project.smlaunch("reproduce", run_id, "--tracking-uri", f"sqlite:///{elsewhere / 'mlflow.db'}")
    assert again.code != 0 and "Traceback" not in again.stderr
    assert "which is not on this machine" in again.stderr and "--artifacts-destination" in again.stderr
    assert str(moved) in again.stderr
