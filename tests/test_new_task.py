"""Bring your own code: `smlaunch new-task` scaffolds a task that runs green at once; a task's own field is
validated like any other; models are logged in the flavour of their framework."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import Project

ALPHA_FIELD = ('"epochs": {', '"alpha": {"description": "L2 penalty on the weights.", "type": "number", '
               '"minimum": 0, "default": 0.0},\n    "epochs": {')


def add_alpha(project: Project, name: str) -> None:
    """A field the template does not have, added the way a user would: schema, config, code."""
    schema = project.root / f"train/{name}/config.schema.json"
    schema.write_text(schema.read_text().replace(*ALPHA_FIELD))
    config = project.root / f"configs/train/{name}.yaml"
    config.write_text(config.read_text() + "alpha: 0.01\n")
    task = project.root / f"train/{name}/task.py"
    task.write_text(task.read_text().replace(
        "loss = mse(model(x[:split]), y[:split])",
        "loss = mse(model(x[:split]), y[:split]) + float(config['alpha']) * model.weight.pow(2).sum()"))


def test_a_scaffolded_task_with_its_own_field_validates_runs_and_logs_a_model(project: Project) -> None:
    from mlflow import MlflowClient

    made = project.smlaunch("new-task", "regress")
    assert made.code == 0, made.stderr
    assert "wrote train/regress/task.py" in made.stdout
    add_alpha(project, "regress")
    typo = project.smlaunch("validate", "configs/regress.yaml", "--set", "train.alpah=0.5")
    assert typo.code == 2
    assert "--set train.alpah=0.5: train.alpah: unknown key 'alpah' — did you mean 'alpha'?" in typo.stderr
    config = project.root / "configs/train/regress.yaml"
    config.write_text(config.read_text().replace("alpha: 0.01", "alpah: 0.01"))
    in_file = project.smlaunch("validate", "configs/regress.yaml")
    line = config.read_text().splitlines().index("alpah: 0.01") + 1
    assert f"configs/train/regress.yaml:{line}:1: train.alpah: unknown key 'alpah' — did you mean 'alpha'?" \
        in in_file.stderr
    config.write_text(config.read_text().replace("alpah: 0.01", "alpha: 0.01"))
    result = project.smlaunch("run", "configs/regress.yaml", "--output", "json")
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    client = MlflowClient(tracking_uri=project.tracking_uri)
    run = client.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.alpha"] == "0.01"
    assert [m.step for m in client.get_metric_history(report["run_id"], "val_mse")] == list(range(1, 51))
    import mlflow.pytorch
    import torch

    mlflow.set_tracking_uri(project.tracking_uri)
    model = mlflow.pytorch.load_model(f"runs:/{report['run_id']}/model")
    assert model(torch.zeros(1, 8)).shape == (1, 1)
    own_test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "train/regress"],
                              cwd=project.root, capture_output=True, text=True, timeout=300, check=False)
    assert own_test.returncode == 0, own_test.stdout[-2000:]


def test_new_task_refuses_to_overwrite_or_a_bad_name(project: Project) -> None:
    assert project.smlaunch("new-task", "regress").code == 0
    again = project.smlaunch("new-task", "regress")
    assert again.code == 2 and "not overwriting train/regress/__init__.py" in again.stderr
    for bad in ("Regress", "2fast", "class", "runtime", "a-b"):
        refused = project.smlaunch("new-task", bad)
        assert refused.code == 2, bad
    assert not (project.root / "train/class").exists()


def test_a_scikit_learn_model_is_logged_in_its_own_flavour(project: Project) -> None:
    from mlflow import MlflowClient

    project.smlaunch("new-task", "tabular")
    task = project.root / "train/tabular/task.py"
    task.write_text(task.read_text().replace('''    ctx.tracker.log_model(model, x[:5].numpy())''',
                                             '''    from sklearn.linear_model import Ridge

    ridge = Ridge(alpha=1.0).fit(x[:split].numpy(), y[:split].numpy().ravel())
    ctx.tracker.log_metrics({"ridge_r2": float(ridge.score(x[split:].numpy(), y[split:].numpy().ravel()))}, step=1)
    ctx.tracker.log_model(ridge, x[:5].numpy())'''))
    result = project.smlaunch("run", "configs/tabular.yaml", "--output", "json", "--set", "train.epochs=2")
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    tree = project.root / ".smlaunch/jobs" / report["job_name"] / "algo-1"
    mlmodel = (tree / "model/model/MLmodel").read_text()
    assert "sklearn:" in mlmodel and "pytorch:" not in mlmodel
    import mlflow.sklearn

    mlflow.set_tracking_uri(project.tracking_uri)
    ridge = mlflow.sklearn.load_model(f"runs:/{report['run_id']}/model")
    assert ridge.predict([[0.0] * 8]).shape == (1,)
    requirements = json.dumps(MlflowClient(tracking_uri=project.tracking_uri).get_run(report["run_id"]).data.tags)
    assert "launcher.code_sha256" in requirements
