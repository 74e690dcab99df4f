"""What a launch records on its run besides params: the staged configs, the uncommitted diff, a fingerprint of
every data channel (MLflow datasets) and the launch's tags."""

from __future__ import annotations

from pathlib import Path

from launcher.cloud.aws import Aws
from launcher.config.spec import LaunchSpec
from launcher.job.staging import CONFIG_ARTIFACT_DIR
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from launcher.tracking.fingerprint import fingerprint_local, fingerprint_s3
from launcher.tracking.provenance import Provenance

UNCOMMITTED_DIFF_ARTIFACT = "provenance/uncommitted.diff"
CODE_ARTIFACT_DIR = "code"  # code/source.tar.gz: what `smlaunch reproduce` runs again


def record_launch(run: TrackedRun, spec: LaunchSpec, provenance: Provenance, aws: Aws | None, staging: Path,
                  tags: dict[str, str], code_file: Path | None = None) -> None:
    """Configs (and the shipped code's archive) as artifacts, the diff, data fingerprints as the run's inputs,
    then `tags`."""
    client.log_directory(run, staging, CONFIG_ARTIFACT_DIR)
    if code_file is not None:
        client.log_file(run, code_file, CODE_ARTIFACT_DIR)
    if provenance.uncommitted_diff:
        client.log_text(run, provenance.uncommitted_diff + "\n", UNCOMMITTED_DIFF_ARTIFACT)
    prints = [fingerprint_s3(c.name, c.uri, aws) if aws is not None and c.uri.startswith("s3://")
              else fingerprint_local(c.name, Path(c.uri)) for c in spec.channels]
    client.log_datasets(run, [found.as_dataset() for found in prints])
    client.set_tags(run, tags)
