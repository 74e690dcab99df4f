"""`smlaunch reproduce RUN_ID`: run an experiment again from what its MLflow run holds, and nothing else.

The run's `config/` artifacts are downloaded: `resolved.yaml` (the config as written, defaults filled in) is
split back into a job config and a training config in a temporary directory, and the original files as
written (`job/`, `train/`) become the new job's config channel byte for byte. Relative paths resolve where the
original config was: a checkout at the same place in this directory (a teammate's clone), else the original
machine's directory, else nowhere (say `--set` for them). The code is the run's own (its archive), the image
the digest it ran, the store the one it was read from; so every param, and the config channel, is the
original's, apart from what `--set` asks to change. A new run tagged `launcher.reproduced_from` is launched.
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from launcher.commands.launch import launch
from launcher.commands.options import print_warnings
from launcher.commands.report import LaunchResult
from launcher.config import yaml12
from launcher.config.loader import Relocation, load_launch_spec
from launcher.config.spec import TRAIN_KEY
from launcher.core.errors import EXIT_BAD_INPUT, LauncherError
from launcher.job.code import ARCHIVE_NAME
from launcher.job.staging import CONFIG_ARTIFACT_DIR
from launcher.tracking import client as tracking
from launcher.tracking.provenance import collect_provenance
from launcher.tracking.record import CODE_ARTIFACT_DIR
from train.contract.archive import unpack
from train.contract.paths import RESOLVED_CONFIG_FILE


class ReproduceRefused(LauncherError):
    """--strict and the source tree differs from the run's commit."""

    exit_code = EXIT_BAD_INPUT


def rebuild_configs(resolved: dict[str, Any], directory: Path) -> Path:
    """Write the resolved config back as a job file + training file under `directory`; return the job file.

    The training file goes where the job config's `training_config` points, so that value, and with it every
    param, stays exactly as the original run recorded it.
    """
    job = {key: value for key, value in resolved.items() if key != TRAIN_KEY}
    reference = Path(job["training_config"])
    if reference.is_absolute():
        reference = Path(reference.name)
        job["training_config"] = reference.name
    job_dir = directory.joinpath(*(["up"] * reference.parts.count("..")))  # room for ../ inside `directory`
    training_file = (job_dir / reference).resolve()
    training_file.parent.mkdir(parents=True, exist_ok=True)
    job_dir.mkdir(parents=True, exist_ok=True)
    training_file.write_text(yaml12.dump(resolved[TRAIN_KEY]), encoding="utf-8")
    job_file = job_dir / "job.yaml"
    job_file.write_text(yaml12.dump(job), encoding="utf-8")
    return job_file


def base_dir(tags: dict[str, str], cwd: Path, fallback: Path) -> Path:
    """Where the original config's relative paths resolve now: a checkout at the same place under `cwd` (a
    teammate's clone, run from its root), else the original machine's directory, else `fallback`."""
    written = Path(tags.get("launcher.config_path", ""))
    for candidate in ((cwd / written).parent if not written.is_absolute() else None,
                      Path(tags["launcher.config_dir"]) if "launcher.config_dir" in tags else None):
        if candidate is not None and candidate.is_dir():
            return candidate
    return fallback


def source_check(original: str | None, cwd: Path) -> str | None:
    """Why this checkout is not the run's source tree, or None when it is."""
    here = collect_provenance(cwd, [])
    if original is None:
        return "the run recorded no git commit"
    if here.git_commit is None:
        return f"this directory is not a git checkout (the run used commit {original[:12]})"
    if here.git_commit != original:
        return f"this checkout is at {here.git_commit[:12]}, the run used {original[:12]}"
    if here.git_dirty:
        return f"this checkout (at the run's commit {original[:12]}) has uncommitted changes"
    return None


def _the_runs_code(tracking_uri: str, run_id: str, tags: dict[str, str], into: Path) -> tuple[Path, ...] | None:
    """The code the run shipped, unpacked under `into`: its package directories (None if it shipped none).
    Packed again for the new job, it gives the same archive, so the new run records the same code hash."""
    if "launcher.code_sha256" not in tags:
        return None
    archive = tracking.download_artifact(tracking_uri, run_id, f"{CODE_ARTIFACT_DIR}/{ARCHIVE_NAME}", into)
    unpacked = into / "unpacked"
    with tarfile.open(archive) as tar:
        unpack(tar, unpacked)
    print(f"using the run's own code ({tags['launcher.code_sha256'][:12]}), not this checkout's", file=sys.stderr)
    return tuple(sorted(directory for directory in unpacked.iterdir() if directory.is_dir()))


def _pinned(tags: dict[str, str], mode: str | None) -> tuple[list[str], str | None]:
    """The overrides a change of mode needs, and the image the run ran (by digest or local image ID)."""
    original, target = tags.get("launcher.mode"), mode or tags.get("launcher.mode")
    overrides = [f"mode={mode}"] if mode else []
    if mode and original == "sagemaker" and mode != "sagemaker":
        overrides.append("sagemaker.output_path=outputs")  # a cloud output path is no place on this machine
    image = {"sagemaker": tags.get("launcher.image_uri"), "local-container": tags.get("launcher.image_id")}
    return overrides, image.get(target or "") if target == original else None


def reproduce(run_id: str, tracking_uri: str, cwd: Path, mode: str | None = None,
              overrides: Sequence[str] = (), strict: bool = False, wait: bool = False) -> LaunchResult:
    """Launch `run_id` again; returns the new launch."""
    original = tracking.get_run(tracking_uri, run_id)
    tags = dict(original.data.tags)
    difference = source_check(tags.get("mlflow.source.git.commit"), cwd)
    if difference and strict:
        raise ReproduceRefused(f"not reproducing {run_id} with --strict: {difference}")
    if difference:
        print(f"warning: {difference}; the code may differ from the original run", file=sys.stderr)
    pinned, image = _pinned(tags, mode)
    with tempfile.TemporaryDirectory(prefix="smlaunch-reproduce-") as scratch:
        configs = tracking.download_artifact(tracking_uri, run_id, CONFIG_ARTIFACT_DIR, Path(scratch))
        resolved = yaml12.load((configs / RESOLVED_CONFIG_FILE).read_text(encoding="utf-8"))
        code_dirs = _the_runs_code(tracking_uri, run_id, tags, Path(scratch) / "code")
        job_file = rebuild_configs(resolved, Path(scratch) / "configs")
        relocation = Relocation(base_dir(tags, cwd, job_file.parent), code_dirs, tracking_uri)
        spec = load_launch_spec(job_file, [*pinned, *overrides], cwd=cwd, relocation=relocation)
        print_warnings(spec)
        marks = {
            "launcher.reproduced_from": run_id,
            "mlflow.source.name": f"smlaunch reproduce {run_id}",
            "launcher.config_path": tags.get("launcher.config_path", ""),
            "launcher.config_dir": str(relocation.base_dir),
        }
        return launch(spec, cwd, wait=wait, extra_tags=marks, image=image, copies_from=configs)
