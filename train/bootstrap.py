"""Run the code the job shipped: unpack the `code` channel and start the job from it. Stdlib only.

When the job has a `code` channel (/opt/ml/input/data/code/source.tar.gz), the archive is unpacked to
/opt/ml/code and this process replaces itself (exec: same PID, so signals still reach it) with one whose
import path starts there; the job then runs that code, not the image's copy. Without the channel (`docker run
IMAGE train` by hand), the image's copy runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from pathlib import Path

from train.contract import CODE_ARCHIVE, CODE_CHANNEL, ContainerPaths, entry_command

CODE_DIR_ENV = "SMLAUNCH_CODE_DIR"  # set once the code is unpacked: the restarted process runs the job


def unpack(tar: tarfile.TarFile, target: Path, prefix: str = "") -> None:
    """Extract the regular files and directories of `tar` (those under `prefix`) into `target`, refusing
    absolute paths, `..` and links. (Python 3.11 before 3.11.4, as in Debian bookworm, has no extraction
    filters, so this does not rely on them.)"""
    for member in tar:
        name = member.name.removeprefix("./")
        if not name.startswith(prefix) or not (member.isfile() or member.isdir()):
            continue
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"refusing to unpack {member.name!r}: it points outside the target")
        destination = target / name
        if member.isdir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        if source is not None:
            with source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            destination.chmod(0o755 if member.mode & 0o111 else 0o644)


def unpack_and_restart(paths: ContainerPaths) -> None:
    """Unpack the shipped code and exec into it; returns only when there is nothing to unpack."""
    archive = paths.channel_dir(CODE_CHANNEL) / CODE_ARCHIVE
    if os.environ.get(CODE_DIR_ENV) or not archive.is_file():
        return
    target = paths.base / "code"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        unpack(tar, target)
    # the shipped code first; then where this runtime lives, so a project that ships only its own tasks
    # (train/<task>/, no runtime) still finds train.runtime beside them (train/__init__.py extends its path)
    runtime_root = str(Path(__file__).resolve().parent.parent)
    path = ":".join(entry for entry in (str(target), runtime_root, os.environ.get("PYTHONPATH")) if entry)
    env = {**os.environ, CODE_DIR_ENV: str(target), "PYTHONPATH": path}
    command = entry_command(sys.executable)
    os.execve(command[0], command, env)


def main() -> None:
    paths = ContainerPaths.from_env(os.environ)
    unpack_and_restart(paths)
    from train import torchrun

    if torchrun.wanted(os.environ):  # a host of a torchrun job: start its workers (each runs the job)
        from train.runtime import leave

        leave(torchrun.run_host(paths))
    from train.runtime import main as run_job

    run_job()
