"""Shared fixtures: a throw-away project directory (configs + digits data + sqlite store) and a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import MotoServer, mlflow_auth_server, mlflow_server, moto_server

REPO = Path(__file__).resolve().parent.parent


def processes_in(root: Path) -> list[int]:
    """PIDs of live processes whose working directory is under `root` (hosts run in their tree)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (cwd == root or root in cwd.parents):
            found.append(int(entry.name))
    return found


def skip_unless_required(reason: str, requirement: str) -> None:
    """Skip with `reason` on a developer's machine; fail where CI sets `requirement` (REQUIRE_DOCKER=1, ...),
    so a broken engine or browser can never turn into a quiet pass."""
    if os.environ.get(requirement) == "1":
        pytest.fail(f"{reason} ({requirement}=1: this test must run here)")
    pytest.skip(reason)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


@dataclass
class Project:
    """A copy of configs/ next to a data/ dir, with its own sqlite store: each test gets a clean one."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "configs" / "local.yaml"

    @property
    def db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.db}"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def task(self, name: str, text: str = "def run(ctx):\n    pass\n") -> list[str]:
        """A task of the test's own in plugins/NAME.py (by default one that does nothing, for a launch whose
        subject is not training); returns the --set arguments that run it."""
        self.write(f"plugins/{name}.py", text)
        return ["--set", f"train.task={name}:run", "--set", f"environment.PYTHONPATH={self.root / 'plugins'}"]

    def smlaunch(self, *args: str, timeout: float = 300, env: dict[str, str | None] | None = None) -> CliResult:
        """Run the CLI here; `env` adds variables to ours, a None value removes one."""
        merged = {**os.environ, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "launcher", *args], cwd=self.root, capture_output=True, text=True,
            timeout=timeout, check=False, env={key: value for key, value in merged.items() if value is not None},
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def runs(self) -> list[Any]:
        """Every run in the store (all experiments); an absent store has none."""
        if not self.db.exists():
            return []
        from mlflow import MlflowClient
        from mlflow.entities import ViewType

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiments = client.search_experiments(view_type=ViewType.ALL)
        return client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL)


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train.digits.prepare import write_splits

    out = tmp_path_factory.mktemp("data") / "digits"
    write_splits(out)
    return out


def copy_project(root: Path, digits_data: Path) -> Project:
    """What a team's checkout holds: configs/, the training code in train/ and the data."""
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "train", root / "train", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(digits_data, root / "data" / "digits")
    return Project(root)


@pytest.fixture
def project(tmp_path: Path, digits_data: Path) -> Project:
    return copy_project(tmp_path, digits_data)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture(scope="session")
def mlflow_auth_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_auth_server(tmp_path_factory.mktemp("mlflow-auth")) as url:
        yield url


@pytest.fixture(scope="session")
def docker_env() -> Iterator[dict[str, str]]:
    """Environment (DOCKER_HOST) for an answering Docker engine; skips with the reason when there is none."""
    from tests.docker_engine import docker_engine

    with docker_engine() as host:
        yield {**os.environ, **({"DOCKER_HOST": host} if host else {})}


@pytest.fixture(scope="session")
def training_image(docker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The training image, built by docker/build_and_push.sh on a locally made base; returns its name."""
    from tests.docker_engine import ensure_base_image

    base = ensure_base_image(docker_env)
    done = subprocess.run([str(REPO / "docker/build_and_push.sh"), "--no-push", "-t", "test", "--base-image", base],
                          env=docker_env, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return "smlaunch-train:test"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the group marks into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs 2 workers), the tests that use the Docker engine share one worker:
    there is one engine per machine, started and stopped by the worker that needs it."""
    for item in items:
        if "docker_env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("docker"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`--dist loadgroup` groups by a suffix pytest-xdist adds to node ids, which a pytest upgrade can silently
    undo (9.1 did): module fixtures are then built on both workers and the Docker tests meet one engine from
    two. A grouped test refuses to run rather than run slower and racier without saying so."""
    if (item.config.getoption("loadgroup", default=False) and item.get_closest_marker("xdist_group")
            and "@" not in item.nodeid.rsplit("::", 1)[-1]):
        pytest.fail("pytest-xdist did not group this xdist_group test: this pytest and pytest-xdist do not work "
                    "together; use the pins in requirements.lock", pytrace=False)
