"""This user's cache of things the launcher can make again but would rather not: `$XDG_CACHE_HOME/smlaunch/`
(~/.cache/smlaunch by default). Downloaded S3 channels for rehearsals live under `s3/`, the verdicts of
task-schema checks (a schema that passed, by its digest) under `checked-schemas/`, and which installed
distribution provides which import name under `import-providers/`. Deleting any of it is safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from train.contract.files import private_dir, write_atomically


def cache_dir(*parts: str, environ: Mapping[str, str] | None = None) -> Path:
    """The cache's directory for `parts` (not created)."""
    environ = os.environ if environ is None else environ
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base.joinpath("smlaunch", *parts)


def recall(kind: str, *key: str | bytes) -> str | None:
    """What was kept for `key` (see `keep`), or None."""
    try:
        return (cache_dir(kind) / _digest(key)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def keep(kind: str, *key: str | bytes, value: str = "") -> None:
    """Keep `value` for `key` (a file named by the key's digest); a cache that cannot be written is no error."""
    with contextlib.suppress(OSError):
        write_atomically(private_dir(cache_dir(kind)) / _digest(key), value.encode())


def _digest(content: tuple[str | bytes, ...]) -> str:
    digest = hashlib.sha256()
    for part in content:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()
