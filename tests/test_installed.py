"""The launcher works installed from a wheel (not editable), away from this checkout: its schemas and task
template ship as package data, and torch is only the training side's (the `train` extra)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

# one worker builds the module's fixture once, under `make test`'s two workers
pytestmark = pytest.mark.xdist_group("installed")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding smlaunch[train] from a wheel built here; returns its bin directory."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"  # built from a copy: setuptools writes build/ into the tree it builds
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "data", "test-output", ".smlaunch", "mlruns", "mlflow.db", "*.egg-info",
        "__pycache__", ".*_cache"))
    (source / "train/churn").mkdir()  # a team's own task in its checkout: theirs, never in the launcher's wheel
    (source / "train/churn/__init__.py").write_text("")
    (source / "train/churn/task.py").write_text("def run(ctx):\n    pass\n")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root / "dist"),
                    str(source)], check=True, capture_output=True, timeout=600)
    (wheel,) = (root / "dist").glob("smlaunch-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    pip = [str(root / "venv/bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-compile"]
    done = subprocess.run([*pip, f"{wheel}[train]", "-c", str(REPO / "requirements.lock")], capture_output=True,
                          text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "venv/bin"


def test_torch_is_the_training_sides_only(installed: Path) -> None:
    (wheel,) = (installed.parent.parent / "dist").glob("smlaunch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith("METADATA"))
        requirements = [line for line in archive.read(metadata).decode().splitlines()
                        if line.startswith("Requires-Dist:")]
    torch = [line for line in requirements if "torch" in line]
    assert torch and all('extra == "train"' in line for line in torch), requirements


def test_the_wheel_ships_the_launcher_and_the_job_runtime_not_tasks(installed: Path) -> None:
    (wheel,) = (installed.parent.parent / "dist").glob("smlaunch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "launcher/cli.py" in names and "train/runtime/job.py" in names and "train/contract/paths.py" in names
    assert "launcher/config/sagemaker_api.json" in names
    assert [name for name in names if name.startswith(("train/churn/", "train/digits/"))] == []


def test_an_installed_launcher_scaffolds_validates_and_runs_outside_the_repo(installed: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{installed}:{env['PATH']}"

    def smlaunch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(installed / "smlaunch"), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600, check=False)

    located = subprocess.run([str(installed / "python"), "-c", "import launcher, train; print(launcher.__file__, "
                              "train.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert str(REPO) not in located.stdout and "site-packages" in located.stdout  # the wheel, not this checkout
    scaffolded = smlaunch("new-task", "demand")
    assert scaffolded.returncode == 0, scaffolded.stderr
    said = scaffolded.stdout + scaffolded.stderr
    assert "smlaunch run configs/demand.yaml" in said and "make run" not in said  # no Makefile here
    for config in ("configs/demand.yaml", "configs/train/demand.yaml"):
        first = (tmp_path / config).read_text().splitlines()[0]
        schema = first.split("$schema=", 1)[1]
        assert (tmp_path / config).parent.joinpath(schema).resolve().is_file(), (config, schema)
    validated = smlaunch("validate", "configs/demand.yaml")
    assert validated.returncode == 0, validated.stderr
    typo = smlaunch("validate", "configs/demand.yaml", "--set", "train.nosie=0.5")
    assert typo.returncode == 2 and "did you mean 'noise'?" in typo.stderr, typo.stderr
    ran = smlaunch("run", "configs/demand.yaml", "--output", "json", "--set", "train.epochs=5")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert '"status": "FINISHED"' in ran.stdout
