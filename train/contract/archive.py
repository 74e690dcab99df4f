"""Unpacking the archives a job exchanges (its code channel, its output.tar.gz) without trusting them. Stdlib only.

Only regular files and directories are extracted, never links or devices, and no member may point outside the
target (absolute paths, `..`). Python 3.11 before 3.11.4 (Debian bookworm's) has no extraction filters, so this
does not rely on them. Files keep their owner's access only (0700 executables, 0600 the rest).
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from train.contract.files import private_dir


def unpack(tar: tarfile.TarFile, target: Path, prefix: str = "") -> None:
    """Extract the regular files and directories of `tar` (those under `prefix`) into `target`, refusing
    absolute paths, `..` and links."""
    for member in tar:
        name = member.name.removeprefix("./")
        if not name.startswith(prefix) or not (member.isfile() or member.isdir()):
            continue
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"refusing to unpack {member.name!r}: it points outside the target")
        destination = target / name
        if member.isdir():
            private_dir(destination)
            continue
        private_dir(destination.parent)
        source = tar.extractfile(member)
        if source is not None:
            with source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            destination.chmod(0o700 if member.mode & 0o111 else 0o600)
