"""`python -m train`: set the process up, run the code the job shipped, then the job (or a torchrun host).

First what every host process needs whatever it runs: files it writes are its owner's alone (umask 077), and a
local host holds its `host.lock` and watches its launcher (train.runtime.orphan). Then, when the job has a
`code` channel (/opt/ml/input/data/code/source.tar.gz), the archive is unpacked to /opt/ml/code and this
process replaces itself (exec: same PID, so signals still reach it) with one whose import path starts there;
the job then runs that code, not the image's copy. Without the channel (`docker run IMAGE train` by hand), the
image's copy runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tarfile
from pathlib import Path

from train.contract.archive import unpack
from train.contract.files import private_dir, private_umask
from train.contract.liveness import hold
from train.contract.paths import CODE_ARCHIVE, CODE_CHANNEL, ContainerPaths, entry_command
from train.runtime.orphan import watch_launcher, watched

CODE_DIR_ENV = "SMLAUNCH_CODE_DIR"  # set once the code is unpacked: the restarted process runs the job
_held: list[int] = []  # the host lock's descriptor, open for this process's life


def unpack_and_restart(paths: ContainerPaths) -> None:
    """Unpack the shipped code and exec into it; returns only when there is nothing to unpack."""
    archive = paths.channel_dir(CODE_CHANNEL) / CODE_ARCHIVE
    if os.environ.get(CODE_DIR_ENV) or not archive.is_file():
        return
    target = paths.base / "code"
    shutil.rmtree(target, ignore_errors=True)
    private_dir(target)
    with tarfile.open(archive) as tar:
        unpack(tar, target)
    # the shipped code first; then where this runtime lives, so a project that ships only its own tasks
    # (train/<task>/, no runtime) still finds train.runtime beside them (train/__init__.py extends its path)
    runtime_root = str(Path(__file__).resolve().parents[2])
    path = ":".join(entry for entry in (str(target), runtime_root, os.environ.get("PYTHONPATH")) if entry)
    env = {**os.environ, CODE_DIR_ENV: str(target), "PYTHONPATH": path}
    command = entry_command(sys.executable)
    os.execve(command[0], command, env)


def main() -> None:
    private_umask()
    paths = ContainerPaths.from_env(os.environ)
    unpack_and_restart(paths)
    if watched() and "RANK" not in os.environ:  # the host's own process, not one of its torchrun workers
        with contextlib.suppress(OSError):  # another process of this host holds it: it is the one that tells
            _held.append(hold(paths.host_lock))
    watch_launcher(paths)
    from train.runtime import torchrun

    if torchrun.wanted(os.environ):  # a host of a torchrun job: start its workers (each runs the job)
        from train.runtime.job import leave

        leave(torchrun.run_host(paths))
    from train.runtime.job import main as run_job

    run_job()
