"""`smlaunch diff RUN_A RUN_B`: what differs between two runs — params, locations (where data, outputs and
work dirs were on each machine), provenance, data, final metrics."""

from __future__ import annotations

from typing import Any

from launcher.tracking import client as tracking

PROVENANCE_TAGS = ("mlflow.source.git.commit", "mlflow.source.git.branch", "launcher.git_dirty", "launcher.mode",
                   "launcher.image", "launcher.image_uri", "launcher.image_digest", "launcher.image_id",
                   "launcher.version", "launcher.python_version", "launcher.lock_sha256", "launcher.command",
                   "launcher.reproduced_from")
PROVENANCE_PREFIXES = ("launcher.versions.",)
LOCATION_PARAMS = ("local.work_dir", "sagemaker.output_path", "tracking.uri", "code.dirs")  # what ran: code_sha256


def _provenance(run: Any) -> dict[str, str]:
    tags = run.data.tags
    found = {key: tags[key] for key in PROVENANCE_TAGS if key in tags}
    found.update({key: value for key, value in tags.items() if key.startswith(PROVENANCE_PREFIXES)})
    for item in run.inputs.dataset_inputs if run.inputs else []:
        found[f"data.{item.dataset.name}"] = item.dataset.digest
    return found


def _changed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    return {key: [a.get(key), b.get(key)] for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}


def _is_location(param: str) -> bool:
    """Params that say where things were on the launching machine, not what was run."""
    return param in LOCATION_PARAMS or (param.startswith("channels.") and param.endswith(".uri"))


def diff_runs(tracking_uri: str, run_a: str, run_b: str) -> dict[str, Any]:
    """Only what differs, per section, as [value in A, value in B] (None where a run lacks it)."""
    a, b = tracking.get_run(tracking_uri, run_a), tracking.get_run(tracking_uri, run_b)
    params = _changed(dict(a.data.params), dict(b.data.params))
    return {
        "runs": [run_a, run_b],
        "params": {key: value for key, value in params.items() if not _is_location(key)},
        "locations": {key: value for key, value in params.items() if _is_location(key)},
        "provenance": _changed(_provenance(a), _provenance(b)),
        "metrics": _changed(dict(a.data.metrics), dict(b.data.metrics)),
        "status": _changed({"status": a.info.status}, {"status": b.info.status}),
    }


def render(report: dict[str, Any]) -> str:
    """Side-by-side text: one `key: A → B` line per difference, grouped by section."""
    run_a, run_b = report["runs"]
    lines = [f"A = {run_a}", f"B = {run_b}"]
    for section in ("params", "locations", "provenance", "metrics", "status"):
        changes = report[section]
        lines.append(f"{section}: {'no differences' if not changes else ''}".rstrip())
        width = max((len(key) for key in changes), default=0)
        lines += [f"  {key:<{width}}  {a!s} → {b!s}" for key, (a, b) in changes.items()]
    return "\n".join(lines)
