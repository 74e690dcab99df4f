"""`smlaunch sweep --resume PARENT_RUN_ID`: find the sweep a parent run recorded, and refuse to resume it with
a sweep file that has changed since (its trials would not be the ones the parent's table describes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from launcher.config.composition import load_composed
from launcher.core.errors import EXIT_BAD_INPUT, LauncherError
from launcher.sweep.parent import FILE_SHA_TAG, FILE_TAG, OVERRIDES_TAG, SWEEP_TAG, files_sha256
from launcher.tracking import client
from launcher.tracking.client import TrackedRun


class ResumeError(LauncherError):
    """The run is not a sweep's parent, or its sweep file is gone or changed."""

    exit_code = EXIT_BAD_INPUT


def find_parent(uri: str, run_id: str, given: Path | None) -> tuple[TrackedRun, Path, tuple[str, ...]]:
    """The parent run, its sweep file (as given, else as recorded) and the `--set` it was started with."""
    run = client.get_run(uri, run_id)
    tags = run.data.tags
    if tags.get(SWEEP_TAG) != "parent":
        raise ResumeError(f"run {run_id} is not a sweep's parent run (no {SWEEP_TAG}=parent tag)")
    if run.info.status == "RUNNING":
        print(f"warning: sweep {run_id} is still RUNNING; if its `smlaunch sweep` is alive, stop it first",
              file=sys.stderr)
    path = given or Path(tags.get(FILE_TAG, ""))
    if not path.is_file():
        raise ResumeError(f"the sweep file {path} is gone: give it as SWEEP_FILE")
    parent = TrackedRun(run.info.run_id, run.info.experiment_id, uri, str(run.info.artifact_uri))
    overrides = tuple(json.loads(tags.get(OVERRIDES_TAG, "[]")))
    _, files = load_composed(path)
    if tags.get(FILE_SHA_TAG) and files_sha256(files) != tags[FILE_SHA_TAG]:
        raise ResumeError(f"{path} has changed since sweep {run_id} started: resuming would run other trials "
                          "than its table shows; restore the file, or start a new sweep")
    return parent, path, overrides
