"""S3 channels on this machine, for a rehearsal: downloaded once into a cache keyed by ETag.

The cache (`$XDG_CACHE_HOME/smlaunch/s3/<bucket>/<key>`, ~/.cache by default) keeps one copy per object and
re-downloads only what changed on S3 (its ETag differs). A rehearsal's channel is a directory of hard links to
the cached files — all of them, or the first N per channel with `--sample N` — laid out under the channel's
prefix exactly as SageMaker would lay it out in /opt/ml/input/data/<channel>/.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from launcher.cloud.aws import Aws, split_s3_uri
from launcher.core.cache import cache_dir
from train.contract.files import private_dir, write_atomically


@dataclass(frozen=True)
class CachedChannel:
    directory: Path
    objects: int
    downloaded: int
    total_bytes: int


def _etags_file(bucket_dir: Path) -> Path:
    return bucket_dir / ".etags.json"


def fetch_channel(aws: Aws, uri: str, target: Path, sample: int | None = None, root: Path | None = None
                  ) -> CachedChannel:
    """Make `target` hold the channel's objects (relative to its prefix), through the cache."""
    bucket, prefix = split_s3_uri(uri)
    bucket_dir = private_dir((root or cache_dir("s3")) / bucket)
    etags: dict[str, str] = json.loads(_etags_file(bucket_dir).read_text()) if _etags_file(bucket_dir).exists() \
        else {}
    objects = sorted((item for item in aws.list_objects(uri, limit=None) if not item["Key"].endswith("/")),
                     key=lambda item: item["Key"])
    downloaded = 0
    private_dir(target)
    base = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] + "/"
    for item in objects[:sample] if sample is not None else objects:
        key, etag = item["Key"], item["ETag"]
        cached = bucket_dir / key
        if etags.get(key) != etag or not cached.exists():
            private_dir(cached.parent)
            aws.download(f"s3://{bucket}/{key}", cached)
            etags[key] = etag
            downloaded += 1
        link = target / key[len(base):]
        private_dir(link.parent)
        link.unlink(missing_ok=True)
        os.link(cached, link)
    write_atomically(_etags_file(bucket_dir), json.dumps(etags))
    kept = objects[:sample] if sample is not None else objects
    return CachedChannel(target, len(kept), downloaded, sum(int(item["Size"]) for item in kept))
