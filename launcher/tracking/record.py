"""What a launch records on its run besides params: the staged configs, the uncommitted diff, a fingerprint of
every data channel (MLflow datasets) and the launch's tags."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from launcher.config.spec import LaunchSpec
from launcher.job.staging import CONFIG_ARTIFACT_DIR
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from launcher.tracking.fingerprint import Fingerprint, fingerprint_local
from launcher.tracking.provenance import Provenance

UNCOMMITTED_DIFF_ARTIFACT = "provenance/uncommitted.diff"
CODE_ARTIFACT_DIR = "code"  # code/source.tar.gz: what `smlaunch reproduce` runs again


def record_launch(run: TrackedRun, spec: LaunchSpec, provenance: Provenance, staging: Path, tags: dict[str, str],
                  code_file: Path | None = None, s3_prints: Mapping[str, Fingerprint] | None = None) -> None:
    """Configs (and the shipped code's archive) as artifacts, the diff, data fingerprints as the run's inputs
    (an S3 channel's from the listing the caller got from AWS), then `tags`."""
    client.log_directory(run, staging, CONFIG_ARTIFACT_DIR)
    if code_file is not None:
        client.log_file(run, code_file, CODE_ARTIFACT_DIR)
    if provenance.uncommitted_diff:
        client.log_text(run, provenance.uncommitted_diff + "\n", UNCOMMITTED_DIFF_ARTIFACT)
    found = [(s3_prints or {}).get(c.name) if c.uri.startswith("s3://") else fingerprint_local(c.name, Path(c.uri))
             for c in spec.channels]
    client.log_datasets(run, [fingerprint.as_dataset() for fingerprint in found if fingerprint is not None])
    client.set_tags(run, tags)
