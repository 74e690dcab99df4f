"""`smlaunch shell CONFIG`: a shell (or one command) in the real image, with the /opt/ml tree and environment
the job would get, to debug the container interactively. No MLflow run is created: the environment names the
experiment instead of a run, so running `train` inside starts a fresh run in that experiment.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

from launcher.config import tracking_uri
from launcher.config.spec import LaunchSpec
from launcher.core.errors import ExecutionError
from launcher.executors import docker
from launcher.executors.tree import host_environment, lay_out_host
from launcher.job.request import RunIds, build_request
from launcher.job.staging import stage_configs

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
    request = build_request(spec, RunIds("", "", uri), job_name, str(job_dir / "config"))
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        request["Environment"].pop(key)
    request["Environment"]["MLFLOW_EXPERIMENT_NAME"] = spec.experiment
    tree = lay_out_host(request, job_dir / "algo-1", "algo-1")
    env = host_environment(request, "algo-1")
    shared = tracking_uri.local_store_paths(uri)  # the store's directory (holding ./mlruns by default)
    mounts = [(str(tree.base), docker.CONTAINER_BASE_DIR), *((path, path) for path in shared)]
    argv = docker.run_command(spec.job.image, f"smlaunch-{job_name}", env, mounts, command or INTERACTIVE_SHELL,
                              interactive=not command)
    return subprocess.call(argv, env={**os.environ, **env})
