"""The parent run of a sweep: the search as params, the sweep file and trial list as artifacts, progress as
metrics while it runs, and at the end the winner (params, objective, run), a table of every trial, a picture
of the objective against each parameter, and a note that says how to rerun the winner."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from launcher.sweep.spec import SweepSpec
from launcher.sweep.trials import TrialResult
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from train.contract.handover import PARENT_TAG, TRIAL_TAG
from train.contract.params import param_value
from train.contract.uris import redact

SWEEP_TAG = "launcher.sweep"  # "parent" on the parent run
FILE_TAG = "launcher.sweep.file"
FILE_SHA_TAG = "launcher.sweep.sha256"
OVERRIDES_TAG = "launcher.sweep.overrides"
ARTIFACT_DIR = "sweep"


def child_tags(parent_run_id: str, trial: int) -> dict[str, str]:
    return {PARENT_TAG: parent_run_id, TRIAL_TAG: str(trial)}


def files_sha256(files: Sequence[Path]) -> str:
    """One digest over a sweep file and the files it extends: has the sweep changed?"""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def start_parent(sweep: SweepSpec, command: str) -> TrackedRun:
    """Create the parent run: the search space as params; the sweep file(s) and planned trials as artifacts."""
    base = sweep.base
    tags = {SWEEP_TAG: "parent", FILE_TAG: str(sweep.file.resolve()), FILE_SHA_TAG: files_sha256(sweep.files),
            OVERRIDES_TAG: json.dumps(list(sweep.overrides)), "mlflow.source.name": str(sweep.file),
            "mlflow.source.type": "JOB", "launcher.command": command, "launcher.mode": base.mode,
            "mlflow.note.content": f"Sweep {sweep.file}: {sweep.strategy} search, running."}
    run = client.start_run(base.tracking_uri, base.experiment, f"sweep-{sweep.file.stem}", sweep.params(), tags)
    for path in sweep.files:
        client.log_file(run, path, ARTIFACT_DIR)
    planned = [trial.as_dict() for trial in sweep.trials]
    client.log_text(run, json.dumps({"strategy": sweep.strategy, "planned": planned}, indent=2),
                    f"{ARTIFACT_DIR}/trials.json")
    return run


def record_progress(run: TrackedRun, sweep: SweepSpec, results: Sequence[TrialResult]) -> None:
    """Progress metrics, one step per ended trial: how many finished and failed, the best objective so far."""
    step = len(results)
    values: dict[str, float] = {"trials_finished": sum(r.status == "FINISHED" for r in results),
              "trials_failed": sum(r.status != "FINISHED" for r in results)}
    best = best_result(sweep, results)
    if best is not None and best.objective is not None:
        values[best_name(sweep.metric)] = best.objective
    client.log_metrics(run, values, step)


def best_name(metric: str) -> str:
    """The parent's name for the best value so far: `best_<metric>` (`best_val_rmse` stays itself)."""
    return metric if metric.startswith("best") else f"best_{metric}"


def best_result(sweep: SweepSpec, results: Sequence[TrialResult]) -> TrialResult | None:
    scored = [r for r in results if r.status == "FINISHED" and r.objective is not None]
    if not scored:
        return None
    pick = max if sweep.maximize else min
    return pick(scored, key=lambda r: r.objective if r.objective is not None else 0.0)


def summarize(run: TrackedRun, sweep: SweepSpec, results: Sequence[TrialResult], billable: float | None) -> None:
    """The sweep's end on its parent: winner, table, picture, note (each step guarded by the caller)."""
    ordered = sorted(results, key=lambda r: r.trial.number)
    best = best_result(sweep, ordered)
    client.log_text(run, _table_csv(sweep, ordered), f"{ARTIFACT_DIR}/trials.csv")
    client.log_text(run, json.dumps({"strategy": sweep.strategy, "planned": [t.as_dict() for t in sweep.trials],
                                     "results": [r.as_dict() for r in ordered]}, indent=2),
                    f"{ARTIFACT_DIR}/trials.json")
    if billable is not None:
        client.log_metrics(run, {"billable_seconds": billable}, len(ordered))
    tags = {"mlflow.note.content": note(sweep, ordered, best)}
    if best is not None:
        tags.update({"launcher.sweep.best_trial": str(best.trial.number),
                     "launcher.sweep.best_run_id": best.run_id or "",
                     f"launcher.sweep.{best_name(sweep.metric)}": repr(best.objective)})
        tags.update({f"launcher.sweep.best.{path}": json.dumps(value) for path, value in best.trial.values.items()})
    client.set_tags(run, tags)
    picture = _picture(sweep, ordered)
    if picture is not None:
        client.log_file(run, picture, ARTIFACT_DIR)


def rerun_command(sweep: SweepSpec, best: TrialResult) -> str:
    items = [*sweep.sets, *best.trial.overrides()]
    return shlex.join(["smlaunch", "run", str(sweep.config), *(part for item in items for part in ("--set", item))])


def note(sweep: SweepSpec, results: Sequence[TrialResult], best: TrialResult | None) -> str:
    """The parent's description (Markdown, shown on its page): the winner, how to rerun it, every trial."""
    finished = sum(r.status == "FINISHED" for r in results)
    lines = [f"**Sweep** `{sweep.file}` — {sweep.strategy}, {len(results)} trials ({finished} finished), "
             f"{sweep.goal} `{sweep.metric}`.", ""]
    if sweep.description:
        lines += [sweep.description, ""]
    if best is None:
        lines.append("No trial finished with the objective logged.")
    else:
        reproduce = f"smlaunch reproduce {best.run_id} --tracking-uri {redact(sweep.base.tracking_uri)}"
        lines += [f"**Best**: trial {best.trial.number}, {sweep.metric} = {best.objective:.6g} "
                  f"(run `{best.run_id}`).", "", "Rerun it:", "", f"    {rerun_command(sweep, best)}", "",
                  f"or exactly as it ran: `{reproduce}`."]
    lines += ["", _table_markdown(sweep, results, best)]
    return "\n".join(lines)


def _columns(sweep: SweepSpec) -> list[str]:
    return ["trial", *(p.path for p in sweep.parameters), sweep.metric, "status", "run_id"]


def _rows(sweep: SweepSpec, results: Sequence[TrialResult]) -> list[list[str]]:
    return [[str(r.trial.number), *(param_value(r.trial.values.get(p.path)) for p in sweep.parameters),
             "" if r.objective is None else f"{r.objective:.6g}", r.status, r.run_id or ""] for r in results]


def _table_csv(sweep: SweepSpec, results: Sequence[TrialResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_columns(sweep))
    writer.writerows(_rows(sweep, results))
    return buffer.getvalue()


def _table_markdown(sweep: SweepSpec, results: Sequence[TrialResult], best: TrialResult | None = None) -> str:
    """The trials as a Markdown table, the winner's row in bold."""
    columns = _columns(sweep)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for result, row in zip(results, _rows(sweep, results), strict=True):
        cells = [cell.replace("|", "\\|") for cell in row]
        if best is not None and result.trial.number == best.trial.number:
            cells = [f"**{cell}**" if cell else cell for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _picture(sweep: SweepSpec, results: Sequence[TrialResult]) -> Path | None:
    """objective.png: the objective against each parameter (one panel each); None without matplotlib."""
    scored = [r for r in results if r.objective is not None]
    if not scored:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; the sweep's picture is left out", file=sys.stderr)
        return None
    count = len(sweep.parameters)
    figure, axes = plt.subplots(1, count, figsize=(4 * count, 3.2), squeeze=False)
    for axis, parameter in zip(axes[0], sweep.parameters, strict=True):
        points = [(_plotted(r.trial.values[parameter.path]), r.objective) for r in scored]
        if all(isinstance(x, int | float) for x, _ in points):
            axis.scatter([x for x, _ in points], [y for _, y in points])
            if parameter.scale == "log":
                axis.set_xscale("log")
        else:
            labels = list(dict.fromkeys(str(x) for x, _ in points))
            axis.scatter([labels.index(str(x)) for x, _ in points], [y for _, y in points])
            axis.set_xticks(range(len(labels)), labels)
        axis.set_xlabel(parameter.path)
        axis.set_ylabel(sweep.metric)
    figure.tight_layout()
    target = Path(tempfile.mkdtemp(prefix="smlaunch-sweep-")) / "objective.png"
    figure.savefig(target, dpi=80)
    plt.close(figure)
    return target


def _plotted(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else json.dumps(value)
