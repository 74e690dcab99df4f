"""Command-line options more than one command shares, and how command results are printed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from launcher.core.errors import EXIT_RUNTIME

F = TypeVar("F", bound=Callable[..., Any])

config_argument = click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
tracking_option = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default="sqlite:///mlflow.db", show_default=True,
    help="Where the runs are recorded (env MLFLOW_TRACKING_URI).",
)
region_option = click.option("--region", envvar="AWS_DEFAULT_REGION", default=None, help="AWS region of the job.")


def overrides_option(command: F) -> F:
    return click.option(
        "--set", "overrides", multiple=True, metavar="KEY=VALUE",
        help="Override a config value by dotted path (repeatable), e.g. --set train.optimizer.lr=0.01",
    )(command)


def output_option(command: F) -> F:
    return click.option(
        "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="json prints one JSON object on stdout.",
    )(command)


def job_command(command: F) -> F:
    """The arguments `status` and `stop` share: which job, where its run is, which region, output format."""
    for decorator in (output_option, region_option, tracking_option,
                      click.argument("identifier", metavar="RUN_ID|JOB_NAME")):
        command = decorator(command)
    return command


def print_mapping(report: dict[str, Any], output: str) -> None:
    """A flat report: JSON, or one `key  value` line per set value."""
    if output == "json":
        click.echo(json.dumps(report))
        return
    for key, value in report.items():
        if value is not None:
            click.echo(f"{key:<17} {value}")


def print_launch(report: dict[str, Any], output: str) -> None:
    """A launch's report: JSON on stdout, or a few lines on stderr (stdout stays the job's)."""
    if output == "json":
        click.echo(json.dumps(report))
        return
    echo = partial(click.echo, err=True)
    echo(f"run {report['run_id']} {report['status']} (job {report['job_name']}: {report['job_status']})")
    if report["failure_reason"]:
        echo(f"failure: {report['failure_reason']}")
    for key in ("console_url", "logs_url", "run_url"):
        if report.get(key):
            echo(f"{key.replace('_', ' ')}: {report[key]}")
    echo(f"experiment {report['experiment_id']} at {report['tracking_uri']}")
    echo(f"see it: MLFLOW_TRACKING_URI={report['tracking_uri']} mlflow runs describe --run-id {report['run_id']}")


def absolute_uri(uri: str) -> str:
    """A tracking URI given on the command line, local stores made absolute (relative to this directory)."""
    from launcher.config.tracking_uri import resolve

    return resolve(uri, Path.cwd())


def finish_launch(report: dict[str, Any], output: str) -> None:
    """Print a launch's report; exit 1 unless the run finished (or, on SageMaker, is running)."""
    print_launch(report, output)
    if report["status"] not in ("FINISHED", "RUNNING"):
        sys.exit(EXIT_RUNTIME)


def print_warnings(spec: Any) -> None:
    """The spec's warnings (allowed, but probably not meant) on stderr, where JSON output never sees them."""
    from launcher.core.guard import redact

    for warning in spec.warnings:
        click.echo(f"warning: {redact(warning)}", err=True)
