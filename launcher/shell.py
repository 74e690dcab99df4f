"""`smlaunch shell CONFIG`: a shell (or one command) in the real image, with the /opt/ml tree and environment
the job would get, to debug the container interactively. No MLflow run is created: the environment names the
experiment instead of a run, so running `train` inside starts a fresh run in that experiment.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from launcher import docker, tracking
from launcher.errors import ExecutionError
from launcher.local_tree import lay_out_host, sagemaker_environment
from launcher.request import build_request
from launcher.spec import LaunchSpec
from launcher.staging import stage_configs
from train.contract import ContainerPaths

INTERACTIVE_SHELL = ["sh", "-c", "command -v bash >/dev/null && exec bash || exec sh"]


def open_shell(spec: LaunchSpec, command: list[str]) -> int:
    """Run `command` (default: an interactive shell) in the image; return its exit code."""
    if not spec.job.image:
        raise ExecutionError("set sagemaker.image to the image to open (make build prints its name)")
    docker.engine_version()
    if not docker.image_exists(spec.job.image):
        raise ExecutionError(f"image {spec.job.image} is not in the local Docker engine: make build, or pull it")
    job_name = f"shell-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    job_dir = spec.work_dir / job_name
    stage_configs(spec, job_dir / "config")
    uri = spec.tracking_uri
    request = build_request(spec, tracking.TrackedRun("", "", uri, ""), job_name, str(job_dir / "config"))
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        request["Environment"].pop(key)
    request["Environment"]["MLFLOW_EXPERIMENT_NAME"] = spec.experiment
    tree = lay_out_host(request, job_dir / "algo-1", "algo-1")
    env = sagemaker_environment(request, ContainerPaths(Path(docker.CONTAINER_BASE_DIR)), "algo-1")
    shared = tracking.local_store_paths(uri, None)  # the store's directory (holding ./mlruns by default)
    mounts = [(str(tree.base), docker.CONTAINER_BASE_DIR), *((path, path) for path in shared)]
    argv = docker.run_command(spec.job.image, f"smlaunch-{job_name}", env, mounts, command or INTERACTIVE_SHELL,
                              interactive=not command)
    return subprocess.call(argv, env={**os.environ, **env})
