"""One host of a torchrun job: start this host's workers under torch's own elastic launcher. Stdlib only.

When the job's Environment says SMLAUNCH_DISTRIBUTION=torchrun, each host's entry (`train`) runs

    python -m torch.distributed.run --nnodes N --node-rank R --nproc-per-node P
        --master-addr <first host> --master-port 29500 --max-restarts 0 --module train

N, R and the first host come from /opt/ml/input/config/resourceconfig.json (hosts sorted, as SageMaker names
them algo-1 … algo-N); P from SMLAUNCH_PROCESSES_PER_HOST ('auto': the GPUs `nvidia-smi` lists, 1 without);
the backend from SMLAUNCH_BACKEND ('auto': nccl with GPUs, gloo without), resolved here and handed to the
workers. The workers are `python -m train` again, told apart by torchrun's RANK/WORLD_SIZE: they run the task
(train.runtime.job), and only global rank 0 records to MLflow. Local runs rendezvous on loopback at the port the
launcher picked (SMLAUNCH_MASTER_ADDR/PORT), since their hosts have no names.

This process forwards SIGTERM/SIGINT to torchrun (which stops its workers). When torchrun fails and no worker
wrote /opt/ml/output/failure (one was killed by the kernel, torch is missing), it writes one; on the first
host it also ends the run FAILED when no worker could (rank 0 itself was killed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from types import FrameType

from train.contract.handover import (
    BACKEND_ENV,
    DISTRIBUTION_ENV,
    MASTER_ADDR_ENV,
    MASTER_PORT_ENV,
    PROCESSES_PER_HOST_ENV,
)
from train.contract.paths import ENTRY_MODULE, ContainerPaths, TrainingEnvironment
from train.runtime.failure import write_failure
from train.runtime.toolkit_env import count_gpus

MASTER_PORT = 29500  # on SageMaker: the first host's port for the rendezvous (torch's default)
TORCHRUN = "torchrun"
RECORD_FILE = "torchrun.json"
WORKER_MARK = "TORCHELASTIC_RUN_ID"  # torchrun sets it in every worker's environment


def wanted(environ: Mapping[str, str]) -> bool:
    """This process is a host of a torchrun job (not one of its workers)."""
    return environ.get(DISTRIBUTION_ENV) == TORCHRUN and WORKER_MARK not in environ


def resolve(environ: Mapping[str, str], gpus: int) -> tuple[int, str]:
    """(processes per host, backend) with 'auto' resolved for a host with `gpus` GPUs."""
    processes = environ.get(PROCESSES_PER_HOST_ENV, "auto")
    backend = environ.get(BACKEND_ENV, "auto")
    count = (gpus or 1) if processes == "auto" else int(processes)
    return count, ("nccl" if gpus else "gloo") if backend == "auto" else backend


def command(env: TrainingEnvironment, environ: Mapping[str, str], gpus: int, python: str = "python3") -> list[str]:
    """The torchrun command line of this host."""
    hosts = sorted(env.hosts)
    processes, _ = resolve(environ, gpus)
    return [python, "-m", "torch.distributed.run",
            "--nnodes", str(len(hosts)), "--node-rank", str(hosts.index(env.current_host)),
            "--nproc-per-node", str(processes),
            "--master-addr", environ.get(MASTER_ADDR_ENV, hosts[0]),
            "--master-port", environ.get(MASTER_PORT_ENV, str(MASTER_PORT)),
            "--max-restarts", "0", "--module", ENTRY_MODULE]


def run_host(paths: ContainerPaths) -> int:
    """Run this host's workers under torchrun; return the exit code."""
    env = TrainingEnvironment.read(paths)
    gpus = count_gpus()
    argv = command(env, os.environ, gpus, sys.executable)
    processes, backend = resolve(os.environ, gpus)
    print(f"smlaunch: {env.current_host}: {' '.join(argv[1:])} (backend {backend})", file=sys.stderr, flush=True)
    _record(paths, {"command": argv[1:], "processes_per_host": processes, "backend": backend, "gpus": gpus})
    child = subprocess.Popen(argv, env={**os.environ, BACKEND_ENV: backend})  # its workers watch the launcher too
    stopped: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    if code == 0 or stopped:
        return 128 + stopped[0] if stopped else 0
    reason = _reason(env.current_host, code)
    if write_failure(paths, reason) and env.is_primary:
        from train.runtime.tracking import end_if_running

        end_if_running(os.environ, reason)
    return 1


def _record(paths: ContainerPaths, launched: dict[str, object]) -> None:
    """Keep what this host started in its output (a rehearsal is compared with the cloud request by it)."""
    try:
        paths.record_dir.mkdir(parents=True, exist_ok=True)
        (paths.record_dir / RECORD_FILE).write_text(json.dumps(launched, indent=2), encoding="utf-8")
    except OSError as error:
        print(f"smlaunch: could not write {paths.record_dir / RECORD_FILE}: {error}", file=sys.stderr, flush=True)


def _reason(host: str, code: int) -> str:
    cause = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    return (f"torchrun on {host} ended ({cause}) and no worker wrote a reason: a worker was killed (out of "
            "memory?) or could not start; see this host's log")
