"""`smlaunch sweep`: search hyperparameters as one parent run with a child run per trial."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from launcher.commands.options import absolute_uri, output_option, overrides_option, print_warnings, tracking_option
from launcher.core.errors import EXIT_RUNTIME


@click.command()
@click.argument("sweep_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@overrides_option
@output_option
@click.option("--dry-run", is_flag=True, help="Validate every trial and print them (and any tuning request); "
                                              "create nothing.")
@click.option("--resume", "resume", default=None, metavar="PARENT_RUN_ID",
              help="Run only the trials of that sweep that did not finish (the sweep file is found from its run).")
@tracking_option
def sweep(sweep_file: Path | None, overrides: tuple[str, ...], output: str, dry_run: bool, resume: str | None,
          tracking_uri: str) -> None:
    """Search hyperparameters: SWEEP_FILE's trials as launches nested under one parent run.

    --set KEY=VALUE applies to every trial's config, except the sweep's own keys (strategy, max_trials,
    max_parallel, seed, max_failures, objective.*), which it sets in the sweep file.
    """
    from launcher.sweep.spec import load_sweep

    resumed = None
    if resume:
        from launcher.sweep.resume import find_parent

        resumed, found_file, found_overrides = find_parent(absolute_uri(tracking_uri), resume, sweep_file)
        sweep_file, overrides = found_file, (*found_overrides, *overrides)
    if sweep_file is None:
        raise click.UsageError("give a SWEEP_FILE, or --resume PARENT_RUN_ID")
    spec = load_sweep(sweep_file, overrides)
    if not dry_run:
        from launcher.tracking.client import preload_mlflow

        preload_mlflow(spec.base.tracking_uri)
    print_warnings(spec.base)
    if dry_run:
        from launcher.sweep.plan import plan

        planned = plan(spec)
        click.echo(json.dumps(planned, indent=2) if output == "json" else _plan_text(planned))
        return
    if spec.base.mode == "sagemaker" and spec.strategy == "bayesian":
        if resumed is not None:
            raise click.UsageError("a bayesian sweep on SageMaker is SageMaker's tuning job: it is not resumed "
                                   "from here (see its tuning job in the console)")
        from launcher.sweep.tuner import start_tuning

        result = start_tuning(spec, Path.cwd(), shlex.join(sys.argv))
    else:
        from launcher.sweep.run import run_sweep

        result = run_sweep(spec, Path.cwd(), shlex.join(["smlaunch", *sys.argv[1:]]), resumed)
    report = result.as_dict()
    if output == "json":
        click.echo(json.dumps(report))
    else:
        _print_outcome(report)
    if report["status"] not in ("FINISHED", "RUNNING"):
        sys.exit(EXIT_RUNTIME)


def _plan_text(planned: dict[str, Any]) -> str:
    lines = [f"{planned['sweep']}: {planned['strategy']}, {planned['max_trials']} trials, "
             f"{planned['max_parallel']} at once, {planned['goal']} {planned['metric']}"]
    lines += [f"  trial {trial['trial']}: {' '.join(trial['overrides'])}" for trial in planned["trials"]]
    if planned.get("request"):
        lines.append("CreateHyperParameterTuningJob request (values in <angle brackets> are set when it starts):")
        lines.append(json.dumps(planned["request"], indent=2))
    return "\n".join(lines)


def _print_outcome(report: dict[str, Any]) -> None:
    from train.contract.params import param_value

    echo = click.echo
    best = (report.get("best") or {}).get("trial")
    for trial in report.get("trials", []):
        objective = "" if trial["objective"] is None else f"{trial['objective']:.6g}"
        values = " ".join(f"{path}={param_value(value)}" for path, value in trial["values"].items())
        mark = " <- best" if trial["trial"] == best else ""
        echo(f"trial {trial['trial']:>3}  {trial['status']:<8} {objective:<10} {values}{mark}", err=True)
    echo(f"sweep {report['parent_run_id']} {report['status']}", err=True)
    if report.get("failure_reason"):
        echo(f"reason: {report['failure_reason']}", err=True)
    if report.get("best"):
        best = report["best"]
        echo(f"best: trial {best['trial']} ({best['objective']:.6g}) run {best['run_id']}", err=True)
    if report.get("tuning_job"):
        echo(f"tuning job: {report['tuning_job']}", err=True)

