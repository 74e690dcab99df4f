"""`smlaunch reproduce RUN_ID`: run an experiment again from what its MLflow run holds, and nothing else.

The run's `config/resolved.yaml` artifact is split back into a job config and a training config in a temporary
directory (no config files on disk needed), the image is pinned to the digest the run recorded, the git commit
is compared with this checkout, and a new run tagged `launcher.reproduced_from` is launched.
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from launcher.commands.launch import launch
from launcher.commands.options import print_warnings
from launcher.commands.report import LaunchResult
from launcher.config.loader import load_launch_spec
from launcher.config.spec import TRAIN_KEY
from launcher.core.errors import LauncherError
from launcher.job.code import ARCHIVE_NAME
from launcher.job.staging import CONFIG_ARTIFACT_DIR
from launcher.tracking import client as tracking
from launcher.tracking.provenance import collect_provenance
from launcher.tracking.record import CODE_ARTIFACT_DIR
from train.contract.archive import unpack
from train.contract.paths import RESOLVED_CONFIG_FILE


class ReproduceRefused(LauncherError):
    """--strict and the source tree differs from the run's commit."""

    exit_code = 2


def re_root(resolved: dict[str, Any], tracking_uri: str, mode: str, code_dirs: list[str] | None = None
            ) -> dict[str, Any]:
    """The resolved config with the original machine's locations replaced by this machine's: the store is the
    one the run was read from, the work dir the default under the current directory, a local job's outputs
    go to ./outputs (a cloud run's s3:// output path is never turned into a local folder), and the code is
    the run's own (unpacked from its archive), not whatever the original directories hold today."""
    job = {key: dict(value) if isinstance(value, dict) else value for key, value in resolved.items()}
    job["tracking"] = {**job.get("tracking", {}), "uri": tracking_uri}
    if code_dirs is not None:
        job["code"] = {**job.get("code", {}), "dirs": code_dirs}
    job["local"] = {key: value for key, value in job.get("local", {}).items() if key != "work_dir"}
    if mode != "sagemaker":
        job["sagemaker"] = {**job.get("sagemaker", {}), "output_path": "outputs"}
    return job


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
    training_file.write_text(yaml.safe_dump(resolved[TRAIN_KEY], sort_keys=False), encoding="utf-8")
    job_file = job_dir / "job.yaml"
    job_file.write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return job_file


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


def _the_runs_code(tracking_uri: str, run_id: str, tags: dict[str, str], into: Path) -> list[str] | None:
    """The code the run shipped, unpacked under `into`: its package directories (None if it shipped none).
    Packed again for the new job, it gives the same archive, so the new run records the same code hash."""
    if "launcher.code_sha256" not in tags:
        return None
    archive = tracking.download_artifact(tracking_uri, run_id, f"{CODE_ARTIFACT_DIR}/{ARCHIVE_NAME}", into)
    unpacked = into / "unpacked"
    with tarfile.open(archive) as tar:
        unpack(tar, unpacked)
    print(f"using the run's own code ({tags['launcher.code_sha256'][:12]}), not this checkout's", file=sys.stderr)
    return [str(directory) for directory in sorted(unpacked.iterdir()) if directory.is_dir()]


def reproduce(run_id: str, tracking_uri: str, cwd: Path, mode: str | None = None,
              overrides: Sequence[str] = (), strict: bool = False, wait: bool = False) -> LaunchResult:
    """Launch `run_id` again; returns the new launch."""
    original = tracking.get_run(tracking_uri, run_id)
    tags = original.data.tags
    difference = source_check(tags.get("mlflow.source.git.commit"), cwd)
    if difference and strict:
        raise ReproduceRefused(f"not reproducing {run_id} with --strict: {difference}")
    if difference:
        print(f"warning: {difference}; the code may differ from the original run", file=sys.stderr)
    pinned = [f"mode={mode}"] if mode else []
    target_mode = mode or tags.get("launcher.mode")
    if "launcher.image_uri" in tags and target_mode == "sagemaker":
        pinned.append(f"sagemaker.image={tags['launcher.image_uri']}")  # repo@sha256:… as the run recorded
    if "launcher.image_id" in tags and target_mode == "local-container":
        pinned.append(f"sagemaker.image={tags['launcher.image_id']}")  # the local image ID the run used
    with tempfile.TemporaryDirectory(prefix="smlaunch-reproduce-") as scratch:
        resolved_file = tracking.download_artifact(tracking_uri, run_id,
                                                   f"{CONFIG_ARTIFACT_DIR}/{RESOLVED_CONFIG_FILE}", Path(scratch))
        resolved = yaml.safe_load(resolved_file.read_text(encoding="utf-8"))
        code_dirs = _the_runs_code(tracking_uri, run_id, tags, Path(scratch) / "code")
        job_file = rebuild_configs(re_root(resolved, tracking_uri, target_mode or "local-process", code_dirs),
                                   Path(scratch) / "configs")
        spec = load_launch_spec(job_file, [*pinned, *overrides], cwd=cwd)
        print_warnings(spec)
        marks = {
            "launcher.reproduced_from": run_id,
            "mlflow.source.name": f"smlaunch reproduce {run_id}",
            "launcher.config_path": f"runs:/{run_id}/{CONFIG_ARTIFACT_DIR}/{RESOLVED_CONFIG_FILE}",
        }
        return launch(spec, cwd, wait=wait, extra_tags=marks)
