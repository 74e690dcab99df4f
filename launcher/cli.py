"""The `smlaunch` command line: parse, call the library, map LauncherError to a message and an exit code.

Kept thin on purpose; heavy modules (mlflow, torch) load only inside the commands that need them.
Set SMLAUNCH_DEBUG=1 to see tracebacks for user errors too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from launcher import __version__
from launcher.errors import EXIT_RUNTIME, LauncherError

F = TypeVar("F", bound=Callable[..., Any])

config_argument = click.argument("config", type=click.Path(dir_okay=False, path_type=Path))


def overrides_option(command: F) -> F:
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a config value by dotted path (repeatable), e.g. --set train.optimizer.lr=0.01",
    )(command)


def output_option(command: F) -> F:
    return click.option(
        "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="json prints one JSON object on stdout.",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smlaunch")
def cli() -> None:
    """Launch training jobs from validated YAML configs, tracked in MLflow."""


@cli.command()
@config_argument
@overrides_option
@output_option
def validate(config: Path, overrides: tuple[str, ...], output: str) -> None:
    """Check CONFIG (and the training config it names) without creating anything."""
    from launcher.config import load_launch_spec

    spec = load_launch_spec(config, overrides)
    summary = {
        "valid": True,
        "experiment": spec.experiment,
        "mode": spec.mode,
        "training_config": str(spec.sources.training_file),
        "instances": f"{spec.job.instance_count} x {spec.job.instance_type}",
        "channels": {channel.name: channel.uri for channel in spec.channels},
        "tracking_uri": spec.tracking_uri,
    }
    if output == "json":
        click.echo(json.dumps(summary))
        return
    click.echo(f"{config}: valid")
    for key, value in summary.items():
        if key != "valid":
            click.echo(f"  {key:<16} {value}")


@cli.command()
@config_argument
@overrides_option
@output_option
@click.option("--dry-run", is_flag=True, help="Print the pre-flight results and the exact request; create nothing.")
@click.option("--wait", is_flag=True, help="SageMaker: follow the job to its end, streaming status and logs.")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=None, hidden=True)
@click.option("--debug", is_flag=True,
              help="local-process: run the host in this terminal, so breakpoint()/pdb in your task works.")
def run(config: Path, overrides: tuple[str, ...], output: str, dry_run: bool, wait: bool,
        poll_seconds: float | None, debug: bool) -> None:
    """Validate CONFIG, create the MLflow run and start the training job."""
    from launcher.config import load_launch_spec

    spec = load_launch_spec(config, overrides)
    if dry_run:
        _dry_run(spec, output)
        return
    from launcher.launch import launch

    if debug and spec.mode != "local-process":
        raise click.UsageError("--debug is for mode local-process; use `smlaunch shell` for the image")
    _finish(launch(spec, Path.cwd(), wait=wait, poll_seconds=poll_seconds, interactive=debug).as_dict(), output)


def _dry_run(spec: Any, output: str) -> None:
    from launcher.launch import plan
    from launcher.preflight import EXIT_PREFLIGHT

    planned = plan(spec)
    if output == "json":
        click.echo(json.dumps(planned.as_dict(), indent=2))
    else:
        click.echo("pre-flight:" if planned.preflight.checks else "pre-flight: nothing to check for this mode")
        for check in planned.preflight.checks:
            click.echo(f"  {check}")
        click.echo("CreateTrainingJob request (values in <angle brackets> are set when the run is created):")
        click.echo(json.dumps(planned.request, indent=2))
    if not planned.preflight.ok:
        sys.exit(EXIT_PREFLIGHT)


def _finish(report: dict[str, Any], output: str) -> None:
    """Print a launch's report; exit 1 unless the run finished (or, on SageMaker, is running)."""
    if output == "json":
        click.echo(json.dumps(report))
    else:
        _print_report(report)
    if report["status"] not in ("FINISHED", "RUNNING"):
        sys.exit(EXIT_RUNTIME)


def _print_report(report: dict[str, Any]) -> None:
    echo = partial(click.echo, err=True)
    echo(f"run {report['run_id']} {report['status']} (job {report['job_name']}: {report['job_status']})")
    if report["failure_reason"]:
        echo(f"failure: {report['failure_reason']}")
    for key in ("console_url", "logs_url", "run_url"):
        if report.get(key):
            echo(f"{key.replace('_', ' ')}: {report[key]}")
    echo(f"experiment {report['experiment_id']} at {report['tracking_uri']}")
    echo(f"see it: MLFLOW_TRACKING_URI={report['tracking_uri']} mlflow runs describe --run-id {report['run_id']}")


@cli.command(context_settings={"ignore_unknown_options": True})
@config_argument
@overrides_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def shell(config: Path, overrides: tuple[str, ...], command: tuple[str, ...]) -> None:
    """Open a shell (or run COMMAND) in the image with the job's /opt/ml tree and environment."""
    from launcher.config import load_launch_spec
    from launcher.shell import open_shell

    sys.exit(open_shell(load_launch_spec(config, overrides), list(command)))


tracking_option = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default="sqlite:///mlflow.db", show_default=True,
    help="Where the run is recorded (env MLFLOW_TRACKING_URI).",
)
region_option = click.option("--region", envvar="AWS_DEFAULT_REGION", default=None, help="AWS region of the job.")


def job_command(command: F) -> F:
    """The arguments `status` and `stop` share: which job, where its run is, which region, output format."""
    for decorator in (output_option, region_option, tracking_option,
                      click.argument("identifier", metavar="RUN_ID|JOB_NAME")):
        command = decorator(command)
    return command


@cli.command()
@job_command
def status(identifier: str, tracking_uri: str, region: str | None, output: str) -> None:
    """Show the state of a launched job and its MLflow run."""
    from launcher import jobs

    _print_mapping(jobs.status(jobs.find(identifier, _absolute(tracking_uri), region)), output)


@cli.command()
@job_command
def stop(identifier: str, tracking_uri: str, region: str | None, output: str) -> None:
    """Stop a SageMaker job and end its MLflow run KILLED."""
    from launcher import jobs

    _print_mapping(jobs.stop(jobs.find(identifier, _absolute(tracking_uri), region)), output)


@cli.command()
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
    from launcher.reproduce import reproduce as run_again

    report = run_again(run_id, _absolute(tracking_uri), Path.cwd(), mode, overrides, strict, wait).as_dict()
    _finish({**report, "reproduced_from": run_id}, output)


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@tracking_option
@output_option
def diff(run_a: str, run_b: str, tracking_uri: str, output: str) -> None:
    """Show what differs between two runs: params, provenance, data, final metrics."""
    from launcher.diff import diff_runs, render

    report = diff_runs(_absolute(tracking_uri), run_a, run_b)
    click.echo(json.dumps(report) if output == "json" else render(report))


def _absolute(tracking_uri: str) -> str:
    from launcher.tracking import resolve_tracking_uri

    return resolve_tracking_uri(tracking_uri, Path.cwd())


def _print_mapping(report: dict[str, Any], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(report))
        return
    for key, value in report.items():
        if value is not None:
            click.echo(f"{key:<17} {value}")


@cli.command()
@click.option("--markdown", is_flag=True, help="Render the configuration reference (docs/configuration.md).")
@click.argument("kind", type=click.Choice(["job", "training"]), required=False)
def schema(markdown: bool, kind: str | None) -> None:
    """Print a config JSON Schema (job or training), or with --markdown the whole reference."""
    if markdown:
        from launcher.schema_docs import render_markdown

        click.echo(render_markdown(), nl=False)
        return
    from launcher.validation import JOB_SCHEMA, TRAINING_SCHEMA, load_schema

    click.echo(json.dumps(load_schema(TRAINING_SCHEMA if kind == "training" else JOB_SCHEMA), indent=2))


def main() -> None:
    """Entry point: run the CLI, turning LauncherError into a message on stderr and its exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except LauncherError as error:
        if os.environ.get("SMLAUNCH_DEBUG"):
            raise
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
