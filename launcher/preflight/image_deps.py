"""Is the image built from this checkout's dependencies? A stale image costs seconds here, not a failed job.

docker/build_and_push.sh records the SHA-256 of `requirements.lock` + `docker/requirements.txt` in the image:
as the label `dev.smlaunch.deps-sha256` (readable from the local engine) and, when pushing, as the ECR tag
`deps-<first 16 hex digits>` (readable with DescribeImages, without pulling). Pre-flight computes the same
hash from the checkout and refuses a mismatch, saying which command rebuilds the image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from launcher.core.errors import LauncherError
from launcher.tracking.provenance import LOCK_FILE

LABEL = "dev.smlaunch.deps-sha256"
TAG_PREFIX = "deps-"
TAG_DIGITS = 16


def checkout_deps_sha256(root: Path = LOCK_FILE.parent) -> str | None:
    """`cat requirements.lock docker/requirements.txt | sha256sum`, or None outside a checkout (installed)."""
    files = [root / "requirements.lock", root / "docker" / "requirements.txt"]
    if not all(path.is_file() for path in files):
        return None
    return hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()


def compare(recorded: str | None, rebuild: str) -> str:
    """The check's detail; LauncherError when the image was built from other dependencies."""
    wanted = checkout_deps_sha256()
    if wanted is None:
        return "no requirements.lock here (an installed launcher): the image's dependencies are not compared"
    if not recorded:
        return "the image records no dependency hash (built without docker/build_and_push.sh): not compared"
    if not wanted.startswith(recorded[:TAG_DIGITS]):
        raise LauncherError(f"the image was built from other dependencies ({recorded[:TAG_DIGITS]}) than this "
                            "checkout's requirements.lock + docker/requirements.txt "
                            f"({wanted[:TAG_DIGITS]}): {rebuild}")
    return f"built from this checkout's dependencies ({wanted[:TAG_DIGITS]})"


def recorded_in_tags(tags: tuple[str, ...]) -> str | None:
    return next((tag[len(TAG_PREFIX) :] for tag in tags if tag.startswith(TAG_PREFIX)), None)
