"""Run a training request's hosts on this machine, whatever starts each host (a subprocess or a container).

For every host: lay out its /opt/ml tree under the job's work dir, start it with a `HostLauncher`, stream its
output prefixed by host (undecodable bytes replaced, never fatal), and watch all hosts at once: the first
host to fail stops the others within seconds, MaxRuntimeInSeconds stops them all, and an interruption of the
launcher (Ctrl-C, SIGTERM, SIGHUP) stops them the way SageMaker stops a job: SIGTERM, a grace period, then
SIGKILL. Afterwards the first host's model dir is packed into `<output path>/<job>/output/model.tar.gz`, as
SageMaker does, written under a temporary name and renamed so a failed write never leaves a truncated file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from launcher.core.errors import interruption
from launcher.executors.pipes import start_feeders
from launcher.executors.tree import host_names, lay_out_host, local_path
from launcher.job.outcome import COMPLETED, FAILED, NOT_RETURNED, STOPPED, JobOutcome
from train.contract.files import atomic_writer, write_atomically
from train.contract.handover import PEER_LOST
from train.contract.liveness import hold
from train.contract.paths import FAILURE_REASON_LIMIT, ContainerPaths
from train.contract.timeline import mark

HOSTS_FILE = "hosts.json"  # beside the trees: each host's process (group), for `smlaunch stop`
STOP_REQUEST_FILE = "stop-request"  # beside the trees: `smlaunch stop` asked, and says so in the reason
POLL_SECONDS = 0.1
TERMINATED_CODES = (143, -15)  # the container's exit after SIGTERM, or the signal itself
STOP_GRACE_SECONDS = 30.0  # SageMaker gives 120 s; a local host's flush is bounded well below this
ROOT_CAUSE_SECONDS = 5.0  # how long a host that only lost a peer waits for the one that failed to say why


class HostLauncher(Protocol):
    """Starts one host of a job (its tree is laid out) and stops it early when asked."""

    @property
    def mounts_channels(self) -> bool:
        """True when the host sees the channels through read-only mounts (no copies in its tree)."""

    def start(self, request: dict[str, Any], tree: ContainerPaths, host: str) -> subprocess.Popen[str]:
        """Start the host with stdout piped (text); stderr merged into it."""

    def stop(self, host: str, process: subprocess.Popen[str]) -> None:
        """Ask a running host to stop (SIGTERM to everything it started)."""

    def kill(self, host: str, process: subprocess.Popen[str]) -> None:
        """End a host that did not stop within the grace period."""

    def reap(self, host: str, process: subprocess.Popen[str]) -> None:
        """After a host's main process ended: end whatever it left running (a container's end does that)."""


class JobInterrupted(KeyboardInterrupt):
    """The launcher was interrupted while the job ran; the hosts are stopped and `outcome` says so."""

    def __init__(self, cause: KeyboardInterrupt, outcome: JobOutcome) -> None:
        super().__init__(cause)
        self.cause = interruption(cause)
        self.outcome = outcome


def run_hosts(request: dict[str, Any], work_dir: Path, launcher: HostLauncher,
              interrupt_after: float | None = None, while_running: Callable[[], None] | None = None) -> JobOutcome:
    """Lay out every host, run them concurrently with live, host-prefixed output, then pack the outputs.

    `interrupt_after` rehearses a spot reclaim: that many seconds after the hosts start, every host gets
    SIGTERM (and SageMaker's grace), then all restart on the same trees, checkpoints kept, once.
    `while_running` is work the launcher does once the hosts are started (recording the run), so it overlaps
    with their start-up instead of delaying it.
    """
    job_name = request["TrainingJobName"]
    job_dir = work_dir / job_name
    hosts = host_names(request["ResourceConfig"]["InstanceCount"])
    trees = {host: lay_out_host(request, job_dir / host, host, copy_channels=not launcher.mounts_channels)
             for host in hosts}
    held = [hold(tree.launcher_lock) for tree in trees.values()]  # released when this process ends, however
    processes: dict[str, subprocess.Popen[str]] = {}
    streamers: list[threading.Thread] = []
    max_runtime = request["StoppingCondition"]["MaxRuntimeInSeconds"]
    deadline = time.monotonic() + max_runtime
    primary_output = str(trees[hosts[0]].output_data_dir)

    pipes_done = threading.Event()

    def start_all() -> None:
        for host in hosts:
            processes[host] = launcher.start(request, trees[host], host)
            mark("host_start")
            streamers.extend(_watch(processes[host], host))
        write_atomically(job_dir / HOSTS_FILE, json.dumps({host: process.pid for host, process in processes.items()}))
        start_feeders(request, trees, pipes_done)

    try:
        start_all()
        print(f"smlaunch: {job_name}: {len(hosts)} host(s) started", file=sys.stderr, flush=True)
        if while_running is not None:
            while_running()
        if interrupt_after is not None:
            failed, reached = _wait_for_hosts(processes, min(deadline, time.monotonic() + interrupt_after))
            if failed is None and reached and time.monotonic() < deadline:  # the reclaim
                print(f"smlaunch: rehearsing a spot reclaim after {interrupt_after:g} s: SIGTERM to every host, "
                      "then a restart on the same trees (checkpoints kept)", file=sys.stderr, flush=True)
                _stop_all(processes, launcher)
                for host, process in processes.items():
                    launcher.reap(host, process)
                _sync_checkpoints(trees, hosts)
                start_all()
        failed, timed_out = _wait_for_hosts(processes, deadline)
        if failed is not None:  # before the rest are stopped: a host stopped by us can no longer say why it failed
            failed = _root_failure(processes, trees, failed)
    except KeyboardInterrupt as stop:
        cause = interruption(stop)
        raise JobInterrupted(cause, JobOutcome(job_name, STOPPED, cause.reason, output_data=primary_output)) \
            from None
    finally:
        pipes_done.set()
        _stop_all(processes, launcher)  # no-op for hosts that ended; ends the rest (a failure, a timeout)
        for host, process in processes.items():
            launcher.reap(host, process)
        for streamer in streamers:
            streamer.join(timeout=5)
        for descriptor in held:
            os.close(descriptor)
    if timed_out:
        return JobOutcome(job_name, FAILED, f"MaxRuntimeExceeded: the job ran longer than {max_runtime} s "
                          "(sagemaker.max_runtime_seconds): raise it, or train for less",
                          output_data=primary_output)
    if failed is not None:
        code = processes[failed].returncode
        ending = STOPPED if code in TERMINATED_CODES else FAILED  # a SIGTERM from outside stops, not fails
        reason = _failure_reason(trees[failed], failed if len(trees) > 1 else None, code)
        if ending == STOPPED and (job_dir / STOP_REQUEST_FILE).is_file():
            reason = (job_dir / STOP_REQUEST_FILE).read_text(encoding="utf-8").strip() or reason
        return JobOutcome(job_name, ending, reason, output_data=primary_output)
    unfinished = [host for host in hosts if not trees[host].ended_file.exists()]
    if unfinished:  # exit 0, but the task never returned (os._exit, a crash in native code that exits 0)
        named = f"{unfinished[0]}: " if len(trees) > 1 else ""
        return JobOutcome(job_name, FAILED, f"{named}{NOT_RETURNED} (exit code 0)", output_data=primary_output)
    output_dir = local_path(request["OutputDataConfig"]["S3OutputPath"]) / job_name / "output"
    model_artifact = _pack(trees[hosts[0]].model_dir, output_dir / "model.tar.gz")
    _pack(trees[hosts[0]].output_data_dir, output_dir / "output.tar.gz")
    return JobOutcome(job_name, COMPLETED, model_artifact=str(model_artifact), output_data=primary_output)


def _sync_checkpoints(trees: dict[str, ContainerPaths], hosts: list[str]) -> None:
    """What SageMaker does when a spot job restarts: every host gets the checkpoints (synced to S3 by the first
    host, the one writer) in its /opt/ml/checkpoints."""
    source = trees[hosts[0]].checkpoints_dir
    for host in hosts[1:]:
        shutil.copytree(source, trees[host].checkpoints_dir, dirs_exist_ok=True)


def _root_failure(processes: dict[str, subprocess.Popen[str]], trees: dict[str, ContainerPaths], first: str) -> str:
    """The host whose failure started it all: the first one to fail, unless it only lost contact with another
    (its workers' collectives broke because a peer died); then the host that fails for a reason of its own
    within a few seconds (its agent notices its dead worker a moment later), else the first after all. Called
    while the other hosts still run: stopping them first would end the one at fault as merely "stopped"."""
    deadline = time.monotonic() + ROOT_CAUSE_SECONDS
    while _lost_a_peer(trees[first]) and time.monotonic() < deadline:
        for host, process in processes.items():
            code = process.poll()
            if host != first and code not in (None, 0, *TERMINATED_CODES) and not _lost_a_peer(trees[host]):
                return host
        time.sleep(POLL_SECONDS)
    return first


def _lost_a_peer(paths: ContainerPaths) -> bool:
    try:
        return PEER_LOST in paths.failure_file.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    except OSError:
        return False


def _wait_for_hosts(processes: dict[str, subprocess.Popen[str]], deadline: float) -> tuple[str | None, bool]:
    """Wait until every host exited 0, one failed (its name), or the deadline passed (True)."""
    while True:
        codes = {host: process.poll() for host, process in processes.items()}
        failed = next((host for host, code in codes.items() if code not in (None, 0)), None)
        if failed is not None:
            return failed, False
        if all(code == 0 for code in codes.values()):
            return None, False
        if time.monotonic() >= deadline:
            return None, True
        time.sleep(POLL_SECONDS)


def _watch(process: subprocess.Popen[str], host: str) -> list[threading.Thread]:
    """Stream a host's piped output; a host sharing the terminal (stdout not piped) needs no streamer."""
    if process.stdout is None:
        return []
    streamer = threading.Thread(target=stream_prefixed, args=(process.stdout, host), daemon=True)
    streamer.start()
    return [streamer]


def stream_prefixed(pipe: IO[str] | None, host: str) -> None:
    """Copy a child's output (a host's, a sweep trial's) line by line to our stderr, each line prefixed with
    its name (stdout stays free for --output json)."""
    if pipe is None:
        return
    for line in pipe:  # the pipe decodes with errors="replace": one bad byte never stops the stream
        try:
            sys.stderr.write(f"{host} | {line}")
            sys.stderr.flush()
        except (OSError, ValueError):  # our own stderr is gone: keep draining so the host never blocks
            continue


def _stop_all(processes: dict[str, subprocess.Popen[str]], launcher: HostLauncher) -> None:
    running = {host: process for host, process in processes.items() if process.poll() is None}
    for host, process in running.items():
        launcher.stop(host, process)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for host, process in running.items():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            launcher.kill(host, process)
            process.wait()


def _failure_reason(paths: ContainerPaths, host: str | None, code: int | None) -> str:
    """Why the job failed (the failure file's reason, before its traceback), naming the host when there are
    several (a single-host job's reason stands alone)."""
    named = f"{host}: " if host else ""
    if paths.failure_file.exists():
        text = paths.failure_file.read_text(encoding="utf-8", errors="replace")[:FAILURE_REASON_LIMIT]
        reason = text.split("\n\n", 1)[0].strip()
        if reason:
            return f"{named}{reason}"
    if code is not None and code < 0:
        import signal

        return f"{named}the training process was killed by {signal.Signals(-code).name}"
    return f"{named}the training process exited with code {code} without writing a failure file"


def _pack(directory: Path, archive: Path) -> Path:
    """tar.gz the contents of `directory` (entries relative to it, as SageMaker packs /opt/ml/model), written
    whole or not at all (a full disk or a crash never leaves a truncated archive behind)."""
    with atomic_writer(archive) as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        for entry in sorted(directory.iterdir()):
            tar.add(entry, arcname=entry.name)
    return archive
