"""The job's `code` channel: the configured package directories packed into one content-hashed archive.

What goes in: the files git tracks (or would track: new, not ignored) under each directory, or every file
outside a git checkout; never data (by extension), secret-looking files (.env, keys, credentials), caches or
anything past the size cap. A file whose text holds what looks like a credential is refused, located. The
archive is deterministic (sorted, zeroed times and owners), so its SHA-256 names exactly the code that ran:
the same code gives the same hash on any machine.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from launcher.config.secrets import SECRET_FILE_PATTERNS, scan_text
from launcher.errors import EXIT_BAD_INPUT, LauncherError
from train.contract import CODE_ARCHIVE

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
    """The packed code: the archive's bytes, its SHA-256 and what it holds."""

    data: bytes
    sha256: str
    files: tuple[str, ...]

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / ARCHIVE_NAME
        path.write_bytes(self.data)
        return path


def _listed(directory: Path) -> list[str] | None:
    """Files git tracks or would track under `directory` (relative), or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
                              cwd=directory, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return sorted({name for name in done.stdout.decode("utf-8", "surrogateescape").split("\0") if name})


def _walked(directory: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [os.path.relpath(os.path.join(root, name), directory) for name in files]
    return sorted(found)


def shipped(directory: Path) -> list[str]:
    """The files of `directory` that travel with the job (relative paths, sorted)."""
    candidates = _listed(directory)
    names = _walked(directory) if candidates is None else candidates
    kept = []
    for name in names:
        parts = Path(name).parts
        if any(part in SKIPPED_DIRS for part in parts) or name.endswith((".pyc", ".pyo")):
            continue
        if Path(name).suffix.lower() in DATA_SUFFIXES:
            continue
        if any(fnmatch.fnmatch(parts[-1].lower(), pattern) for pattern in SECRET_FILE_PATTERNS):
            continue
        if (directory / name).is_file():
            kept.append(name)
    return kept


def pack(dirs: tuple[Path, ...], limit_bytes: int) -> CodeArchive:
    """Pack each directory under its own name (`train/...`) into one deterministic tar.gz."""
    entries = [(f"{directory.name}/{name}", directory / name) for directory in dirs for name in shipped(directory)]
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
    return CodeArchive(data, hashlib.sha256(data).hexdigest(), tuple(name for name, _ in entries))


def _refuse_credentials(entries: list[tuple[str, Path]]) -> None:
    found = []
    for _, path in entries:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files have no lines to read
        found += [f"{path}:{line}:1: this line holds what looks like {hit.kind}" for line, hit in scan_text(text)]
    if found:
        raise CodeError("the code to ship holds what looks like credentials (it would be recorded with the run); "
                        "read them from Secrets Manager instead (`secrets:` in the job config):\n  "
                        + "\n  ".join(found))
