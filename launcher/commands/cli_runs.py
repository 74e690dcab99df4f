"""The verbs about launched runs: `status`, `stop`, `list`, `reproduce`, `diff`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from launcher.commands.options import (
    absolute_uri,
    finish_launch,
    job_command,
    output_option,
    overrides_option,
    print_mapping,
    tracking_option,
)


@click.command()
@job_command
def status(identifier: str, tracking_uri: str, region: str | None, output: str) -> None:
    """Show the state of a launched job and its MLflow run."""
    from launcher.commands import jobs

    print_mapping(jobs.status(jobs.find(identifier, absolute_uri(tracking_uri), region)), output)


@click.command()
@job_command
def stop(identifier: str, tracking_uri: str, region: str | None, output: str) -> None:
    """Stop a job (SageMaker, or local on this machine) and end its MLflow run KILLED."""
    from launcher.commands import jobs

    print_mapping(jobs.stop(jobs.find(identifier, absolute_uri(tracking_uri), region)), output)


@click.command("list")
@tracking_option
@click.option("--experiment", default=None, help="Only this experiment's runs.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs, newest first.")
@output_option
def list_runs(tracking_uri: str, experiment: str | None, limit: int, output: str) -> None:
    """List the newest runs of the store (a local run whose launcher died is settled first)."""
    from launcher.commands import jobs

    runs = jobs.list_runs(absolute_uri(tracking_uri), experiment, limit)
    if output == "json":
        click.echo(json.dumps(runs))
        return
    for run in runs:
        reason = f"  ({run['reason'][:80]})" if run["reason"] and run["status"] != "FINISHED" else ""
        name = run["job_name"] or run["name"] or ""
        click.echo(f"{run['run_id']}  {run['status']:<8}  {run['mode'] or '':<15}  {name}{reason}")


@click.command()
@click.argument("run_id")
@tracking_option
@click.option("--mode", type=click.Choice(["local-process", "local-container", "sagemaker"]),
              help="Run it in another mode than the original.")
@overrides_option
@click.option("--strict", is_flag=True, help="Refuse when this checkout is not the run's git commit.")
@click.option("--wait", is_flag=True, help="SageMaker: follow the job to its end.")
@output_option
def reproduce(run_id: str, tracking_uri: str, mode: str | None, overrides: tuple[str, ...], strict: bool,
              wait: bool, output: str) -> None:
    """Run RUN_ID again from what its MLflow run holds (no config files needed)."""
    from launcher.commands.reproduce import reproduce as run_again

    report = run_again(run_id, absolute_uri(tracking_uri), Path.cwd(), mode, overrides, strict, wait).as_dict()
    finish_launch({**report, "reproduced_from": run_id}, output)


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@tracking_option
@output_option
def diff(run_a: str, run_b: str, tracking_uri: str, output: str) -> None:
    """Show what differs between two runs: params, provenance, data, final metrics."""
    from launcher.commands.diff import diff_runs, render

    report = diff_runs(absolute_uri(tracking_uri), run_a, run_b)
    click.echo(json.dumps(report) if output == "json" else render(report))
