"""Where a launch came from: git state, user, host, command line and versions. Read-only, best effort."""

from __future__ import annotations

import getpass
import hashlib
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
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
    package_versions: dict[str, str] = field(default_factory=dict)
    lock_sha256: str | None = None
    uncommitted_diff: str = ""


KEY_PACKAGES = ("mlflow", "torch", "numpy", "boto3", "sagemaker", "jsonschema", "pyyaml")
LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements.lock"
DIFF_LIMIT_BYTES = 1024 * 1024
# Files whose changes never leave the machine in a run's artifacts.
SECRET_PATHSPECS = tuple(f":(exclude,glob,icase)**/{pattern}" for pattern in (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "*credentials*", "*secret*",
    "*token*", ".netrc", ".pypirc", "*.kdbx"))


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide results (read from metadata, nothing imported)."""
    found = {}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def lock_digest() -> str | None:
    return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest() if LOCK_FILE.exists() else None


def uncommitted_diff(cwd: Path) -> str:
    """`git diff HEAD` of tracked files, secret-looking files left out, capped at DIFF_LIMIT_BYTES."""
    text = _git(cwd, "diff", "HEAD", "--no-color", "--", ".", *SECRET_PATHSPECS) or ""
    if len(text.encode()) > DIFF_LIMIT_BYTES:
        cut = text.encode()[:DIFF_LIMIT_BYTES].decode(errors="ignore")
        return cut + f"\n# diff truncated at {DIFF_LIMIT_BYTES} bytes\n"
    return text


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
        package_versions=package_versions(),
        lock_sha256=lock_digest(),
        uncommitted_diff=uncommitted_diff(cwd) if status else "",
    )
