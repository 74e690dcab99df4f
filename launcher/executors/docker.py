"""The launcher's one door to Docker: the `docker` CLI run as a subprocess (no Docker SDK, no compose).

Containers always use host networking (`--network host`), the way SageMaker's own local mode and these
machines expect; no bridge network is ever created.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping

from launcher.core.errors import ExecutionError

CONTAINER_BASE_DIR = "/opt/ml"


class DockerUnavailable(ExecutionError):
    """No Docker engine can be reached (or the docker CLI is missing)."""


def _docker(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker") is None:
        raise DockerUnavailable("the docker CLI is not installed: install Docker, or use mode local-process")
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise DockerUnavailable(f"docker {args[0]} did not answer within {timeout} s") from error


def engine_version() -> str:
    """The engine's version; raises DockerUnavailable saying why when none answers."""
    done = _docker("version", "--format", "{{.Server.Version}}")
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DockerUnavailable(f"no Docker engine reachable ({reason}): start Docker (or set DOCKER_HOST), "
                                "or use mode local-process")
    return f"Docker engine {done.stdout.strip()}"


def image_exists(image: str) -> bool:
    return image_id(image) is not None


def image_id(image: str) -> str | None:
    """The local image's ID (sha256:…), or None when the engine does not have it."""
    done = _docker("image", "inspect", "--format", "{{.Id}}", image)
    return done.stdout.strip() if done.returncode == 0 else None


def image_label(image: str, label: str) -> str | None:
    """A label of a local image, or None when the image or the label is missing."""
    done = _docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image)
    value = done.stdout.strip()
    return value if done.returncode == 0 and value and value != "<no value>" else None


def run_command(image: str, name: str, env: Mapping[str, str], mounts: Iterable[tuple[str, str]],
                command: list[str], interactive: bool = False, gpus: bool = False) -> list[str]:
    """The `docker run` argv. Variables are passed by name only (`-e KEY`), their values through the CLI's own
    environment, so they never show in a process listing. `gpus`: every GPU of this machine (`--gpus all`,
    through the NVIDIA container toolkit), as a GPU instance gives its container all of its own."""
    argv = ["docker", "run", "--rm", "--network", "host", "--name", name,
            "--user", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp"]
    if interactive:
        argv += ["-it"]
    if gpus:
        argv += ["--gpus", "all"]
    for key in env:
        argv += ["-e", key]
    for source, target in mounts:
        argv += ["-v", f"{source}:{target}"]
    return [*argv, image, *command]


def stop(name: str, grace_seconds: int = 30) -> None:
    """SIGTERM to the container's main process, SIGKILL after `grace_seconds` (as SageMaker stops a job)."""
    _docker("stop", "--time", str(grace_seconds), name, timeout=grace_seconds + 30)


def kill(name: str) -> None:
    _docker("kill", name, timeout=30)
