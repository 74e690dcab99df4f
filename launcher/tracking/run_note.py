"""The run's description (mlflow.note.content): what ran, where, with what, and how to run it again."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from launcher.config.spec import LaunchSpec
from launcher.tracking.provenance import Provenance
from train.contract.params import param_value

KEY_PARAMS = ("epochs", "batch_size", "seed")
SHOWN_PARAMS = 8
SHOWN_CHARS = 60


def key_parameters(training: Mapping[str, Any]) -> list[str]:
    """The training config's headline values, whatever the task: the optimizer's name and learning rate when it
    has them, `epochs`, `batch_size`, `seed`, then its other top-level scalars (a few; every value is a param)."""
    shown: list[tuple[str, Any]] = []
    optimizer = training.get("optimizer")
    if isinstance(optimizer, Mapping):
        shown += [(f"optimizer.{key}", optimizer[key]) for key in ("name", "lr") if key in optimizer]
    ordered = [*KEY_PARAMS, *(key for key in training if key not in KEY_PARAMS)]
    shown += [(key, training[key]) for key in ordered if key in training and key != "task"
              and not isinstance(training[key], (Mapping, list))]
    return [f"{name}={_short(param_value(value))}" for name, value in shown[:SHOWN_PARAMS]]


def _short(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


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
    key_values = key_parameters(spec.training)
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
