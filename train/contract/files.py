"""Files the launcher and the job write are the user's alone: private modes and atomic replacement.

A job's record (configs, params, metrics journal, the code archive, model and output tarballs, the tracking
store) can hold what its owner would not share, so both sides create files 0600 and directories 0700 whatever
the user's umask (`private_umask`, set once at each process's start), and a final file is written under a
temporary name and renamed (`write_atomically`), so a crash or a full disk never leaves half a file where a
reader expects a whole one. Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PRIVATE_UMASK = 0o077  # files 0600, directories 0700
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_umask() -> None:
    """From now on this process (and what it starts) creates files 0600 and directories 0700."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """`path` and its missing parents, created 0700."""
    for parent in reversed([path, *path.parents]):
        if not parent.exists():
            with contextlib.suppress(FileExistsError):
                parent.mkdir(mode=PRIVATE_DIR)
    return path


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO[bytes]]:
    """A handle to write `path` whole: a private temporary file beside it, renamed over it on success and
    removed on failure (the old `path`, if any, is untouched until then)."""
    private_dir(path.parent)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(descriptor, mode) as handle:
            yield handle
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes | str) -> Path:
    """Write `data` (text as UTF-8) to `path` whole, 0600."""
    with atomic_writer(path) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path
