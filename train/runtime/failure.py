"""/opt/ml/output/failure: why a host failed, reason first (SageMaker shows its first 1024 characters as the
job's FailureReason, and the launcher reads it the same way for local jobs).

One writer per host, the first wins: among a host's workers the one that failed first (torchrun then stops the
others, which would only report the SIGTERM), and the torchrun host itself only when no worker wrote one.
Writing never raises: it is on every failure path.
"""

from __future__ import annotations

import contextlib
import sys
import traceback

from train.contract.files import private_dir
from train.contract.paths import FAILURE_REASON_LIMIT, ContainerPaths


def describe(error: BaseException) -> str:
    """`Type: message`, or the type alone when the exception cannot even print itself."""
    try:
        reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
    except Exception:
        reason = type(error).__name__
    return str(reason).encode("utf-8", errors="backslashreplace").decode("utf-8")


def details(error: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(error))
    except Exception:
        return ""


def write_failure(paths: ContainerPaths, reason: str, more: str = "") -> bool:
    """Write the failure file (the reason, then `more`) unless this host has one; True when this wrote it."""
    text = f"{reason[:FAILURE_REASON_LIMIT]}\n\n{more}" if more else f"{reason[:FAILURE_REASON_LIMIT]}\n"
    try:
        private_dir(paths.output_dir)
        with open(paths.failure_file, "xb") as handle:
            handle.write(text.encode("utf-8", errors="backslashreplace"))
    except FileExistsError:
        return False
    except Exception as failed:
        warn(f"could not write {paths.failure_file}: {failed!r}")
        return False
    return True


def warn(message: str) -> None:
    """A line on stderr for the job's log; never raises (stderr may be gone while the job ends)."""
    with contextlib.suppress(Exception):
        print(f"smlaunch: {message}", file=sys.stderr, flush=True)
