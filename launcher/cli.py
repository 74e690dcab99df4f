"""The `smlaunch` command line: parse, call the library, map LauncherError to a message and an exit code.

Kept thin on purpose; heavy modules (mlflow, torch) load only inside the commands that need them.
Set SMLAUNCH_DEBUG=1 to see tracebacks for user errors too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
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
def run(config: Path, overrides: tuple[str, ...], output: str) -> None:
    """Validate CONFIG, create the MLflow run and start the training job."""
    from launcher.config import load_launch_spec
    from launcher.launch import launch

    spec = load_launch_spec(config, overrides)
    result = launch(spec, Path.cwd())
    report = result.as_dict()
    if output == "json":
        click.echo(json.dumps(report))
    else:
        click.echo(f"run {report['run_id']} {report['status']} (job {report['job_name']}: {report['job_status']})",
                   err=True)
        if report["failure_reason"]:
            click.echo(f"failure: {report['failure_reason']}", err=True)
        click.echo(f"experiment {report['experiment_id']} at {report['tracking_uri']}", err=True)
        click.echo(f"see it: MLFLOW_TRACKING_URI={report['tracking_uri']} mlflow runs describe --run-id "
                   f"{report['run_id']}", err=True)
    if report["status"] != "FINISHED":
        sys.exit(EXIT_RUNTIME)


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
