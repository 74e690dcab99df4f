"""Content fingerprints of a job's data channels, so a run records exactly which data it read.

Local directories: SHA-256 over every file's relative path and bytes (or, past a size budget, its size and
modification time, and the fingerprint says so). S3 prefixes: SHA-256 over each object's key and ETag, which
S3 derives from the object's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTENT_BUDGET_BYTES = 256 * 1024 * 1024
DIGEST_LENGTH = 16


@dataclass(frozen=True)
class Fingerprint:
    """One channel's data: a digest, how it was computed, and how much it covers."""

    channel: str
    uri: str
    digest: str
    method: str  # "content", "stat" or "etag"
    files: int
    total_bytes: int

    def as_dataset(self) -> tuple[str, str, str, str]:
        """(name, digest, source type, source JSON) for tracking.log_datasets."""
        source_type = "s3" if self.uri.startswith("s3://") else "local"
        source = json.dumps({"uri": self.uri, "method": self.method, "files": self.files, "bytes": self.total_bytes})
        return self.channel, self.digest, source_type, source


def fingerprint_local(channel: str, directory: Path) -> Fingerprint:
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    total = sum(path.stat().st_size for path in files)
    method = "content" if total <= CONTENT_BUDGET_BYTES else "stat"
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        if method == "content":
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            stat = path.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return Fingerprint(channel, str(directory), digest.hexdigest()[:DIGEST_LENGTH], method, len(files), total)


def fingerprint_listing(channel: str, uri: str, objects: Iterable[Mapping[str, Any]]) -> Fingerprint:
    """An S3 channel's fingerprint from its listing (ListObjectsV2 entries: Key, ETag, Size), which the command
    that talks to AWS hands over."""
    digest = hashlib.sha256()
    count = total = 0
    for item in objects:
        digest.update(f"{item['Key']}\0{item['ETag']}\0".encode())
        count += 1
        total += int(item["Size"])
    return Fingerprint(channel, uri, digest.hexdigest()[:DIGEST_LENGTH], "etag", count, total)
