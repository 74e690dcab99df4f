"""The tags a launch puts on its run: MLflow's own system tags (shown where people look) plus `launcher.*`."""

from __future__ import annotations

from launcher.config.spec import LaunchSpec
from launcher.job.code import CodeArchive
from launcher.tracking.provenance import Provenance
from train.contract.uris import redact

LOCATION_TAG = "launcher.location."  # + a param (channels.training.uri): where it pointed on the launching machine


def run_tags(spec: LaunchSpec, provenance: Provenance, untracked: tuple[str, ...] = ()) -> dict[str, str]:
    """Set when the run is created: where it came from, who started it, with what. The code is dirty when
    the checkout has changes or the shipped code holds files git does not track (`untracked`, listed)."""
    tags = {
        "mlflow.source.name": str(spec.sources.job_file),
        "mlflow.source.type": "JOB",
        "mlflow.user": provenance.user,
        "launcher.mode": spec.mode,
        "launcher.config_path": str(spec.sources.job_file),
        "launcher.training_config_path": str(spec.sources.training_file),
        "launcher.version": provenance.launcher_version,
        "launcher.command": provenance.command,
        "launcher.python_version": provenance.python_version,
        "launcher.host": provenance.host,
        "launcher.config_dir": str(spec.sources.job_file.resolve().parent),
        **{f"{LOCATION_TAG}{param}": redact(where) for param, where in spec.locations.items()},
        **spec.tags,
    }
    if provenance.git_commit:
        tags["mlflow.source.git.commit"] = provenance.git_commit
        tags["launcher.git_dirty"] = str(bool(provenance.git_dirty or untracked)).lower()
        if untracked:
            tags["launcher.untracked_files"] = ", ".join(untracked)[:5000]
    if provenance.git_branch:
        tags["mlflow.source.git.branch"] = provenance.git_branch
    if provenance.git_remote:
        tags["mlflow.source.git.repoURL"] = provenance.git_remote
    tags.update({f"launcher.versions.{name}": version for name, version in provenance.package_versions.items()})
    if provenance.lock_sha256:
        tags["launcher.lock_sha256"] = provenance.lock_sha256
    if spec.not_secrets:  # the credential check was told to let these through: say so on the record
        tags["launcher.not_secrets"] = ", ".join(spec.not_secrets)
    return tags


def job_tags(spec: LaunchSpec, job_name: str, config_uri: str, note: str) -> dict[str, str]:
    """Set once the job has a name: the job, where its configs are, and the run's description."""
    tags = {"launcher.job_name": job_name, "launcher.config_uri": config_uri, "mlflow.note.content": note}
    if spec.is_local:
        tags["launcher.job_dir"] = str(spec.work_dir / job_name)
    if not spec.run_name:
        tags["mlflow.runName"] = job_name
    return tags


def image_tags(configured: str | None, uri: str | None = None, digest: str | None = None,
               image_id: str | None = None, region: str | None = None) -> dict[str, str]:
    """The image as configured and as pinned (ECR digest, or the local engine's image ID), and the region."""
    tags = {"launcher.image": configured or ""} if (uri or image_id) else {}
    if uri and digest:
        tags.update({"launcher.image_uri": uri, "launcher.image_digest": digest})
    if image_id:
        tags["launcher.image_id"] = image_id
    if region:
        tags["launcher.region"] = region
    return tags


def code_tags(code: CodeArchive) -> dict[str, str]:
    """Which code ran: the shipped archive's SHA-256 (same code, same hash), how many files it holds, and the
    credential files it left out (by name)."""
    tags = {"launcher.code_sha256": code.sha256, "launcher.code_files": str(len(code.files))}
    if code.left_out:
        tags["launcher.code_left_out"] = ", ".join(code.left_out)[:1000]
    return tags
