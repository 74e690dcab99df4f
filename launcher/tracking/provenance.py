"""Where a launch came from: git state, user, host, command line and versions. Read-only, best effort."""

from __future__ import annotations

import getpass
import hashlib
import platform
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from launcher import __version__
from launcher.config.credential_rules import check_derived
from launcher.config.yaml_source import Location, problem
from launcher.core.errors import ConfigProblem
from launcher.core.guard import CREDENTIAL_FILES, CREDENTIAL_PATHS
from train.contract.uris import redact


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
SECRET_PATHSPECS = tuple(f":(exclude,glob,icase)**/{pattern}" for pattern in (*CREDENTIAL_FILES, *CREDENTIAL_PATHS))


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


HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def diff_credentials(diff: str) -> list[ConfigProblem]:
    """A problem for each line of the uncommitted diff that holds a credential, whether the change adds it,
    removes it or only shows it as context: the run would keep all of them in provenance/uncommitted.diff.
    Located in the changed file (a removed line at its place in the committed file); the value is never shown."""
    found: list[ConfigProblem] = []
    old_path = new_path = ""
    old_line = new_line = 0
    for text in diff.splitlines():
        if text.startswith("--- "):
            old_path = text[4:].removeprefix("a/")
        elif text.startswith("+++ "):
            new_path = text[4:].removeprefix("b/")
        elif match := HUNK.match(text):
            old_line, new_line = int(match.group(1)), int(match.group(2))
        elif text[:1] in ("+", "-", " "):
            kind = {"+": "an added", "-": "a removed", " ": "an unchanged"}[text[:1]]
            path, line = (old_path, old_line) if text[:1] == "-" else (new_path, new_line)
            hit = check_derived(text[1:], Path(path).name or "diff")
            if hit is not None:
                where = Location(f"{path} (uncommitted change)", line, 1)
                found.append(problem(where, (), f"{kind} line of the uncommitted diff holds what looks like "
                                     f"{hit.kind}; the run keeps the uncommitted diff: commit or stash the change "
                                     "first (and keep credentials in Secrets Manager)"))
            old_line += text[:1] != "+"
            new_line += text[:1] != "-"
    return found


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _remote(cwd: Path) -> str | None:
    """The origin remote, with any token or password in it redacted (derived data is redacted, not refused)."""
    remote = _git(cwd, "config", "--get", "remote.origin.url")
    return redact(remote) if remote else None


def collect_provenance(cwd: Path, argv: list[str] | None = None) -> Provenance:
    """Gather provenance for a launch started in `cwd` with command line `argv`."""
    commit = _git(cwd, "rev-parse", "HEAD")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no") if commit else None
    command = shlex.join(["smlaunch", *(sys.argv[1:] if argv is None else argv)])
    return Provenance(
        git_commit=commit,
        git_branch=_git(cwd, "rev-parse", "--abbrev-ref", "HEAD") if commit else None,
        git_remote=_remote(cwd) if commit else None,
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
