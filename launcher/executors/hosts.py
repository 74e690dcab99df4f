"""Run a training request's hosts on this machine, whatever starts each host (a subprocess or a container).

For every host: lay out its /opt/ml tree under the job's work dir, start it with a `HostLauncher`, stream its
output prefixed by host, enforce MaxRuntimeInSeconds, and report the first failure's reason (from its
failure file). Afterwards the first host's model dir is packed into `<output path>/<job>/output/model.tar.gz`,
as SageMaker does.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

from launcher.executors import COMPLETED, FAILED, STOPPED, JobOutcome
from launcher.local_tree import host_names, lay_out_host, local_path
from train.contract import FAILURE_REASON_LIMIT, ContainerPaths


class HostLauncher(Protocol):
    """Starts one host of a job (its tree is laid out) and stops it early when asked."""

    def start(self, request: dict[str, Any], tree: ContainerPaths, host: str) -> subprocess.Popen[str]:
        """Start the host with stdout piped (text); stderr merged into it."""

    def stop(self, host: str, process: subprocess.Popen[str]) -> None:
        """End a host that is still running."""


def run_hosts(request: dict[str, Any], work_dir: Path, launcher: HostLauncher) -> JobOutcome:
    """Lay out every host, run them concurrently with live, host-prefixed output, then pack the outputs."""
    job_name = request["TrainingJobName"]
    job_dir = work_dir / job_name
    hosts = host_names(request["ResourceConfig"]["InstanceCount"])
    trees = {host: lay_out_host(request, job_dir / host, host) for host in hosts}
    started = {host: _watch(launcher.start(request, trees[host], host), host) for host in hosts}
    processes = {host: process for host, (process, _) in started.items()}
    deadline = time.monotonic() + request["StoppingCondition"]["MaxRuntimeInSeconds"]
    try:
        codes = {host: _wait(process, deadline) for host, process in processes.items()}
    except KeyboardInterrupt:
        return JobOutcome(job_name, STOPPED, "stopped by the user (Ctrl-C)")
    finally:
        _stop_all(processes, launcher)  # no-op for hosts that ended; ends the rest (Ctrl-C, timeout)
        for _, streamer in started.values():
            if streamer is not None:
                streamer.join(timeout=5)
    if any(code is None for code in codes.values()):
        seconds = request["StoppingCondition"]["MaxRuntimeInSeconds"]
        return JobOutcome(job_name, FAILED, f"MaxRuntimeExceeded: the job ran longer than {seconds} s")
    failed = [host for host in hosts if codes[host] != 0]
    if failed:
        return JobOutcome(job_name, FAILED, _failure_reason(trees[failed[0]], failed[0], codes[failed[0]]))
    output_dir = local_path(request["OutputDataConfig"]["S3OutputPath"]) / job_name / "output"
    model_artifact = _pack(trees[hosts[0]].model_dir, output_dir / "model.tar.gz")
    _pack(trees[hosts[0]].output_data_dir, output_dir / "output.tar.gz")
    return JobOutcome(job_name, COMPLETED, model_artifact=str(model_artifact))


def _watch(process: subprocess.Popen[str], host: str) -> tuple[subprocess.Popen[str], threading.Thread | None]:
    """Stream a host's piped output; a host sharing the terminal (stdout not piped) needs no streamer."""
    if process.stdout is None:
        return process, None
    streamer = threading.Thread(target=_stream, args=(process.stdout, host), daemon=True)
    streamer.start()
    return process, streamer


def _stream(pipe: IO[str], host: str) -> None:
    """Copy a host's output line by line to our stderr (stdout stays free for --output json)."""
    for line in pipe:
        sys.stderr.write(f"{host} | {line}")
        sys.stderr.flush()


def _wait(process: subprocess.Popen[str], deadline: float) -> int | None:
    try:
        return process.wait(timeout=max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        return None


def _stop_all(processes: dict[str, subprocess.Popen[str]], launcher: HostLauncher) -> None:
    for host, process in processes.items():
        if process.poll() is None:
            launcher.stop(host, process)
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _failure_reason(paths: ContainerPaths, host: str, code: int | None) -> str:
    if paths.failure_file.exists():
        reason = paths.failure_file.read_text(encoding="utf-8", errors="replace")[:FAILURE_REASON_LIMIT].strip()
        return f"{host}: {reason}"
    return f"{host}: the training process exited with code {code} without writing a failure file"


def _pack(directory: Path, archive: Path) -> Path:
    """tar.gz the contents of `directory` (entries relative to it, as SageMaker packs /opt/ml/model)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for entry in sorted(directory.iterdir()):
            tar.add(entry, arcname=entry.name)
    return archive
