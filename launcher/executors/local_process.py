"""Run each host as a `python -m train` subprocess of this Python, no Docker: the fastest rehearsal.

The subprocess gets the host's /opt/ml tree (through SAGEMAKER_BASE_DIR) and the environment SageMaker would
give the job (see host_env), in a process group of its own so that stopping it stops everything it started.
With `interactive`, the single host shares this terminal (no output prefixing), so `breakpoint()` opens pdb.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.executors.host_env import process_environment
from launcher.executors.hosts import run_hosts
from launcher.job.outcome import JobOutcome
from train.contract.paths import ContainerPaths, entry_command


@dataclass(frozen=True)
class ProcessHosts:
    """Starts hosts as subprocesses."""

    interactive: bool = False
    mounts_channels: bool = False  # channels are copied (reflinked where possible) into each tree

    def start(self, request: dict[str, Any], tree: ContainerPaths, host: str) -> subprocess.Popen[str]:
        env = process_environment(request, tree, host, os.environ, self.interactive)
        output = None if self.interactive else subprocess.PIPE
        return subprocess.Popen(entry_command(sys.executable), env=env, cwd=tree.base, stdout=output,
                                stderr=None if self.interactive else subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=not self.interactive)

    def stop(self, host: str, process: subprocess.Popen[str]) -> None:
        """SIGTERM to the host's whole process group (as SageMaker stops a container), not just its leader."""
        self._signal(process, signal.SIGTERM)

    def kill(self, host: str, process: subprocess.Popen[str]) -> None:
        self._signal(process, signal.SIGKILL)

    def reap(self, host: str, process: subprocess.Popen[str]) -> None:
        """Helpers the task started outlive it in its process group; a container's end would take them along."""
        if not self.interactive:
            self._signal(process, signal.SIGKILL)

    def _signal(self, process: subprocess.Popen[str], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just ended by itself
            if self.interactive:
                process.send_signal(signum)  # shares our process group: signal it alone
            else:
                os.killpg(process.pid, signum)


def run_local_process(request: dict[str, Any], work_dir: Path, interactive: bool = False,
                      interrupt_after: float | None = None,
                      while_running: Callable[[], None] | None = None) -> JobOutcome:
    return run_hosts(request, work_dir, ProcessHosts(interactive), interrupt_after, while_running)
