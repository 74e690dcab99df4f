"""Where a launch came from: git state, user, host, command line and versions. Read-only, best effort."""

from __future__ import annotations

import getpass
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from launcher import __version__


@dataclass(frozen=True)
class Provenance:
    """Facts about the launching machine and source tree; git fields are None outside a git checkout."""

    git_commit: str | None
    git_branch: str | None
    git_remote: str | None
    git_dirty: bool | None
    user: str
    host: str
    command: str
    launcher_version: str
    python_version: str


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def collect_provenance(cwd: Path, argv: list[str] | None = None) -> Provenance:
    """Gather provenance for a launch started in `cwd` with command line `argv`."""
    commit = _git(cwd, "rev-parse", "HEAD")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no") if commit else None
    command = shlex.join(["smlaunch", *(sys.argv[1:] if argv is None else argv)])
    return Provenance(
        git_commit=commit,
        git_branch=_git(cwd, "rev-parse", "--abbrev-ref", "HEAD") if commit else None,
        git_remote=_git(cwd, "config", "--get", "remote.origin.url") if commit else None,
        git_dirty=bool(status) if status is not None else None,
        user=getpass.getuser(),
        host=platform.node(),
        command=command,
        launcher_version=__version__,
        python_version=platform.python_version(),
    )
