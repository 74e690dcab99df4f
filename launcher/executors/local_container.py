"""Run each host in the real training image with `docker run`: the closest rehearsal of SageMaker on a laptop.

The host's /opt/ml tree (laid out exactly as for local-process) is mounted at /opt/ml, the SM_* variables
describe /opt/ml paths, and the container runs the image's `train` command, as SageMaker does. A local MLflow
store (sqlite file, artifact directory) is mounted at its own path so the container writes the same run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.config.spec import LOCAL_GPU
from launcher.executors import docker
from launcher.executors.host_env import aws_role_stand_in
from launcher.executors.hosts import run_hosts
from launcher.executors.pipes import PIPE_MODE
from launcher.executors.tree import channel_source, host_environment, is_sharded
from launcher.job.outcome import JobOutcome
from train.contract.paths import ContainerPaths

TRAIN_COMMAND = ["train"]  # what SageMaker runs: `docker run IMAGE train`
FILE_SETTINGS = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")  # laptop paths mean nothing in the container


def container_name(job_name: str, host: str) -> str:
    return f"{job_name}-{host}"


@dataclass(frozen=True)
class ContainerHosts:
    """Starts hosts as containers of `image`, sharing `shared_paths` at the same path inside."""

    image: str
    job_name: str
    shared_paths: tuple[str, ...]
    mounts_channels: bool = True  # the user's data is mounted read-only: the job can read it, never write it

    def start(self, request: dict[str, Any], tree: ContainerPaths, host: str) -> subprocess.Popen[str]:
        role = {key: value for key, value in aws_role_stand_in(os.environ).items() if key not in FILE_SETTINGS}
        env = {**role, **host_environment(request, host)}
        data = ContainerPaths(Path(docker.CONTAINER_BASE_DIR))
        channels = [(str(channel_source(channel)), f"{data.channel_dir(channel['ChannelName'])}:ro")
                    for channel in request["InputDataConfig"]
                    if channel.get("InputMode") != PIPE_MODE and not is_sharded(channel)]  # shards: in the tree
        mounts = [(str(tree.base), docker.CONTAINER_BASE_DIR), *channels,
                  *((path, path) for path in self.shared_paths)]
        gpus = request["ResourceConfig"]["InstanceType"] == LOCAL_GPU
        argv = docker.run_command(self.image, container_name(self.job_name, host), env, mounts, TRAIN_COMMAND,
                                  gpus=gpus)
        return subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", start_new_session=True)

    def stop(self, host: str, process: subprocess.Popen[str]) -> None:
        docker.stop(container_name(self.job_name, host))

    def reap(self, host: str, process: subprocess.Popen[str]) -> None:
        """Nothing to do: `docker run --rm` removes the container, and everything in it, when its process ends."""

    def kill(self, host: str, process: subprocess.Popen[str]) -> None:
        docker.kill(container_name(self.job_name, host))
        process.kill()


def run_local_container(request: dict[str, Any], work_dir: Path, shared_paths: tuple[str, ...],
                        interrupt_after: float | None = None,
                        while_running: Callable[[], None] | None = None) -> JobOutcome:
    image = request["AlgorithmSpecification"]["TrainingImage"]
    return run_hosts(request, work_dir, ContainerHosts(image, request["TrainingJobName"], shared_paths),
                     interrupt_after, while_running)
