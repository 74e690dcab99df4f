"""Real local services for tests: a moto server and an MLflow tracking server, each a subprocess on loopback.

Both bind 127.0.0.1 on a free port, are polled until ready within a bounded time, and are stopped by the
fixture that started them.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def service(command: list[str], ready_url: str, workdir: Path, timeout: float,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    log = workdir / "service.log"
    quiet = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # an MLflow server's job workers: idle CPU we need
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, **quiet, **(env or {})}, start_new_session=True)
    try:
        wait_for(ready_url, process, timeout, log)
        yield process
    finally:
        end_process(process, grace=15)


def end_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MotoServer:
    """A `moto_server` subprocess that records every request it receives (its recorder API)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def aws_env(self) -> dict[str, str | None]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1", "AWS_PROFILE": None,
                "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}

    def _post(self, path: str) -> bytes:
        request = urllib.request.Request(f"{self.endpoint}{path}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())

    def reset(self) -> None:
        """Forget every resource and recorded request."""
        self._post("/moto-api/reset")
        self._post("/moto-api/recorder/reset-recording")
        self._post("/moto-api/recorder/start-recording")

    def calls(self, service_prefix: str) -> list[tuple[str, str]]:
        """(X-Amz-Target, region its signature names) of every recorded request to a JSON service whose target
        starts with `service_prefix` (e.g. "secretsmanager."): which operations were called, and where."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/recorder/download-recording", timeout=10) as response:
            lines = response.read().decode().splitlines()
        found = []
        for line in lines:
            headers = {key.lower(): value for key, value in json.loads(line)["headers"].items()}
            target = headers.get("x-amz-target", "")
            if target.lower().startswith(service_prefix.lower()):
                scope = headers.get("authorization", "").split("Credential=", 1)[-1].split("/")
                found.append((target, scope[2] if len(scope) > 2 else ""))
        return found

    def recorded(self, target: str) -> list[dict[str, Any]]:
        """JSON bodies of the recorded requests whose X-Amz-Target is `target` (e.g. SageMaker.CreateTrainingJob)."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/recorder/download-recording", timeout=10) as response:
            lines = response.read().decode().splitlines()
        bodies = []
        for line in lines:
            entry = json.loads(line)
            headers = {key.lower(): value for key, value in entry["headers"].items()}
            if headers.get("x-amz-target") == target:
                body = base64.b64decode(entry["body"]) if entry["body_encoded"] else entry["body"].encode()
                bodies.append(json.loads(body))
        return bodies


@contextmanager
def moto_server(workdir: Path) -> Iterator[MotoServer]:
    port = free_port()
    env = {"MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(workdir / "recording.jsonl")}
    with service([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                 f"http://127.0.0.1:{port}/moto-api/data.json", workdir, timeout=60, env=env):
        yield MotoServer(f"http://127.0.0.1:{port}")


@contextmanager
def mlflow_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    command = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--backend-store-uri", f"sqlite:///{workdir / 'server.db'}",
               "--artifacts-destination", str(workdir / "artifacts"), "--serve-artifacts"]
    with service(command, f"http://127.0.0.1:{port}/health", workdir, timeout=120):
        yield f"http://127.0.0.1:{port}"


AUTH_USER = "admin"
AUTH_PASSWORD = "Adm1n-test-only-Pass"


@contextmanager
def mlflow_auth_server(workdir: Path) -> Iterator[str]:
    """MLflow's own basic-auth app (`--app-name basic-auth`): every API call needs AUTH_USER/AUTH_PASSWORD."""
    port = free_port()
    config = workdir / "auth.ini"
    config.write_text("[mlflow]\ndefault_permission = READ\n"
                      f"database_uri = sqlite:///{workdir / 'auth.db'}\nadmin_username = {AUTH_USER}\n"
                      f"admin_password = {AUTH_PASSWORD}\n"
                      "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    # (its credential cache, auth_cache_ttl_seconds, answers a bearer token with a 500 in MLflow 3.17: left off)
    command = [str(BIN / "mlflow"), "server", "--app-name", "basic-auth", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", f"sqlite:///{workdir / 'server.db'}",
               "--artifacts-destination", str(workdir / "artifacts"), "--serve-artifacts"]
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_FLASK_SERVER_SECRET_KEY": "tests-only"}
    with service(command, f"http://127.0.0.1:{port}/health", workdir, timeout=120, env=env):
        yield f"http://127.0.0.1:{port}"
