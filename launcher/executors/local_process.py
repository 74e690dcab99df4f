"""Run each host as a `python -m train` subprocess of this Python, no Docker: the fastest rehearsal.

The subprocess gets the host's /opt/ml tree (through SAGEMAKER_BASE_DIR), the SM_* variables and the request's
Environment, exactly as the image would in SageMaker. With `interactive`, the single host shares this terminal
(no output prefixing), so `breakpoint()` in a task opens pdb.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.errors import ExecutionError
from launcher.executors import JobOutcome
from launcher.executors.hosts import run_hosts
from launcher.local_tree import sagemaker_environment
from train.contract import ContainerPaths, entry_command


@dataclass(frozen=True)
class ProcessHosts:
    """Starts hosts as subprocesses."""

    interactive: bool = False

    def start(self, request: dict[str, Any], tree: ContainerPaths, host: str) -> subprocess.Popen[str]:
        env = {**os.environ, **sagemaker_environment(request, tree, host), "PYTHONUNBUFFERED": "1"}
        output = None if self.interactive else subprocess.PIPE
        return subprocess.Popen(entry_command(sys.executable), env=env, cwd=tree.base, stdout=output,
                                stderr=None if self.interactive else subprocess.STDOUT, text=True)

    def stop(self, host: str, process: subprocess.Popen[str]) -> None:
        process.terminate()


def run_local_process(request: dict[str, Any], work_dir: Path, interactive: bool = False) -> JobOutcome:
    if interactive and request["ResourceConfig"]["InstanceCount"] != 1:
        raise ExecutionError("--debug runs one host in this terminal: set sagemaker.instance_count=1")
    return run_hosts(request, work_dir, ProcessHosts(interactive))
