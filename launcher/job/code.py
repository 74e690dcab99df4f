"""The job's `code` channel: the configured package directories packed into one content-hashed archive.

What goes in: the files git tracks (or would track: new, not ignored) under each directory, or every file
outside a git checkout; never data (by extension), caches or anything past the size cap. Credential files
(.env, keys, .netrc, .docker/config.json, .aws/credentials, ...: core.guard) are left out, and the launch names
them. A file whose text holds what looks like a credential is refused, located (the same guard). The archive is
deterministic (sorted, zeroed times and owners), so its SHA-256 names exactly the code that ran: the same code
gives the same hash on any machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from launcher.core.errors import EXIT_BAD_INPUT, LauncherError
from launcher.core.guard import credential_file, scan_text
from train.contract.files import write_atomically
from train.contract.paths import CODE_ARCHIVE

ARCHIVE_NAME = CODE_ARCHIVE
DATA_SUFFIXES = {".npz", ".npy", ".csv", ".tsv", ".parquet", ".feather", ".arrow", ".h5", ".hdf5", ".pt", ".pth",
                 ".ckpt", ".safetensors", ".onnx", ".pkl", ".pickle", ".joblib", ".bin", ".tfrecord", ".zip", ".tar",
                 ".gz", ".tgz", ".bz2", ".xz", ".7z", ".db", ".sqlite", ".jpg", ".jpeg", ".png", ".gif", ".mp4",
                 ".wav", ".mp3"}
SKIPPED_DIRS = {"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}


class CodeError(LauncherError):
    """The code cannot be shipped as it is (too big, or a credential inside); nothing was created."""

    exit_code = EXIT_BAD_INPUT


@dataclass(frozen=True)
class CodeArchive:
    """The packed code: the archive's bytes, its SHA-256, what it holds, and the credential files left out."""

    data: bytes
    sha256: str
    files: tuple[str, ...]
    left_out: tuple[str, ...] = ()

    def write(self, directory: Path) -> Path:
        return write_atomically(directory / ARCHIVE_NAME, self.data)


def _git_files(directory: Path, *which: str) -> list[str] | None:
    """`git ls-files` of `directory` (relative paths), or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "ls-files", "-z", *which, "--", "."], cwd=directory, capture_output=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return sorted({name for name in done.stdout.decode("utf-8", "surrogateescape").split("\0") if name})


def _listed(directory: Path) -> list[str] | None:
    """Files git tracks or would track under `directory` (relative), or None outside a git checkout."""
    return _git_files(directory, "--cached", "--others", "--exclude-standard")


def untracked(dirs: tuple[Path, ...], files: tuple[str, ...]) -> tuple[str, ...]:
    """The shipped files (`<dir name>/<path>`) git does not track: the code that ran is not the commit's."""
    found = []
    for directory in dirs:
        others = _git_files(directory, "--others", "--exclude-standard") or []
        found += [f"{directory.name}/{name}" for name in others if f"{directory.name}/{name}" in files]
    return tuple(sorted(found))


def _walked(directory: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [os.path.relpath(os.path.join(root, name), directory) for name in files]
    return sorted(found)


def shipped(directory: Path) -> tuple[list[str], list[str]]:
    """(the files of `directory` that travel with the job, the credential files left out): relative, sorted."""
    candidates = _listed(directory)
    names = _walked(directory) if candidates is None else candidates
    kept: list[str] = []
    left_out: list[str] = []
    for name in names:
        parts = Path(name).parts
        if any(part in SKIPPED_DIRS for part in parts) or name.endswith((".pyc", ".pyo")):
            continue
        if Path(name).suffix.lower() in DATA_SUFFIXES or not (directory / name).is_file():
            continue
        (left_out if credential_file(Path(name).as_posix()) else kept).append(name)
    return kept, left_out


def pack(dirs: tuple[Path, ...], limit_bytes: int) -> CodeArchive:
    """Pack each directory under its own name (`train/...`) into one deterministic tar.gz."""
    found = {directory: shipped(directory) for directory in dirs}
    entries = [(f"{directory.name}/{name}", directory / name) for directory in dirs for name in found[directory][0]]
    left_out = tuple(f"{directory.name}/{name}" for directory in dirs for name in found[directory][1])
    total = sum(path.stat().st_size for _, path in entries)
    if total > limit_bytes:
        biggest = sorted(entries, key=lambda entry: -entry[1].stat().st_size)[:3]
        listed = ", ".join(f"{name} ({path.stat().st_size // 1024} KiB)" for name, path in biggest)
        raise CodeError(f"the code to ship is {total / 2**20:.1f} MiB, over code.max_mb ({limit_bytes / 2**20:g} "
                        f"MiB); the biggest files: {listed}. Data belongs in a channel; ignore it in git or raise "
                        "code.max_mb")
    _refuse_credentials(entries)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in entries:
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    return CodeArchive(data, hashlib.sha256(data).hexdigest(), tuple(name for name, _ in entries), left_out)


def _refuse_credentials(entries: list[tuple[str, Path]]) -> None:
    found = []
    for _, path in entries:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files have no lines to read
        found += [f"{path}:{line}:1: this line holds what looks like {hit.kind}"
                  for line, hit in scan_text(text, path.name)]
    if found:
        raise CodeError("the code to ship holds what looks like credentials (it would be recorded with the run); "
                        "read them from Secrets Manager instead (`secrets:` in the job config), or mark a false "
                        "positive with a `# pragma: allowlist secret` comment on its line:\n  " + "\n  ".join(found))
