"""Is the process holding a lock file still alive? How a local job's hosts and its launcher watch each other.

A process `hold`s an exclusive flock on a file for as long as it lives; the kernel releases it when the process
ends, however it ends (SIGKILL, OOM, a closed laptop lid), so another process sees the holder is gone by being
able to take the lock itself (`held`). The launcher holds `launcher.lock` in each host's tree; each host holds
`host.lock` in its own. Both files sit in the tree, so a container (which sees the tree at /opt/ml) takes part
too. Stdlib only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def hold(path: Path) -> int:
    """Lock `path` (created 0600) for as long as this process lives; returns the descriptor to keep open.
    The descriptor is not inherited across exec: each process holds its own locks."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return descriptor


def held(path: Path) -> bool:
    """Whether a live process holds the lock on `path` (False when the file does not exist)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)  # releases the lock this probe may have taken
    return False
