"""The run's description (mlflow.note.content): what ran, where, with what, and how to run it again."""

from __future__ import annotations

import shlex

from launcher.config.spec import LaunchSpec
from launcher.tracking.provenance import Provenance

KEY_PARAMS = ("epochs", "batch_size", "seed")


def describe_run(spec: LaunchSpec, provenance: Provenance, job_name: str, run_id: str,
                 links: dict[str, str] | None = None) -> str:
    """Markdown for the MLflow run page."""
    lines = []
    if spec.description:
        lines += [spec.description.strip(), ""]
    commit = f"commit `{provenance.git_commit[:12]}`" if provenance.git_commit else "outside a git checkout"
    dirty = " (with uncommitted changes)" if provenance.git_dirty else ""
    lines += [
        f"**Job** `{job_name}` in mode `{spec.mode}` on {spec.job.instance_count} × `{spec.job.instance_type}`",
        f"**Launched by** {provenance.user} on {provenance.host}, {commit}{dirty}",
        f"**Configs** `{spec.sources.job_file}` + `{spec.sources.training_file}`"
        + (f", overrides `{' '.join(spec.sources.overrides)}`" if spec.sources.overrides else ""),
    ]
    key_values = [f"{name}={spec.training[name]}" for name in KEY_PARAMS if name in spec.training]
    if "optimizer" in spec.training:
        optimizer = spec.training["optimizer"]
        key_values.insert(0, f"optimizer={optimizer.get('name')} lr={optimizer.get('lr')}")
    if key_values:
        lines.append(f"**Key parameters** {', '.join(key_values)}")
    for name, url in (links or {}).items():
        lines.append(f"**{name}** {url}")
    rerun = ["smlaunch", "run", str(spec.sources.job_file)]
    for override in spec.sources.overrides:
        rerun += ["--set", override]
    lines += ["", "Run it again from this run alone (any directory, same tracking store):", "",
              f"    smlaunch reproduce {run_id} --tracking-uri {spec.tracking_uri}", "",
              "or from the config files, at the same commit:", "", f"    {shlex.join(rerun)}"]
    return "\n".join(lines)
