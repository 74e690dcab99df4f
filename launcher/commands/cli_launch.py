"""The verbs that start jobs: `validate`, `run` (and `--dry-run`), `rehearse`, `shell`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from launcher.commands.options import (
    config_argument,
    finish_launch,
    output_option,
    overrides_option,
    print_warnings,
)
from launcher.core.errors import EXIT_RUNTIME


@click.command()
@config_argument
@overrides_option
@output_option
def validate(config: Path, overrides: tuple[str, ...], output: str) -> None:
    """Check CONFIG (and the training config it names) without creating anything."""
    from launcher.config.loader import load_launch_spec
    from train.contract.uris import redact

    spec = load_launch_spec(config, overrides)
    print_warnings(spec)
    summary = {
        "valid": True,
        "experiment": spec.experiment,
        "mode": spec.mode,
        "training_config": str(spec.sources.training_file),
        "instances": f"{spec.job.instance_count} x {spec.job.instance_type}",
        "channels": {channel.name: channel.uri for channel in spec.channels},
        "tracking_uri": redact(spec.tracking_uri),
    }
    if output == "json":
        click.echo(json.dumps(summary))
        return
    click.echo(f"{config}: valid")
    for key, value in summary.items():
        if key != "valid":
            click.echo(f"  {key:<16} {value}")


@click.command()
@config_argument
@overrides_option
@output_option
@click.option("--dry-run", is_flag=True, help="Print the pre-flight results and the exact request; create nothing.")
@click.option("--wait", is_flag=True, help="SageMaker: follow the job to its end, streaming status and logs.")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=None, hidden=True)
@click.option("--debug", is_flag=True,
              help="local-process: run the host in this terminal, so breakpoint()/pdb in your task works.")
@click.option("--interrupt-after", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Local modes: rehearse a spot reclaim — SIGTERM every host after SECONDS, then restart them "
                   "on the same trees with the checkpoints kept.")
@click.option("--sweep-parent", default=None, hidden=True)  # set by `smlaunch sweep`: the run nests under it
@click.option("--sweep-trial", type=int, default=None, hidden=True)
def run(config: Path, overrides: tuple[str, ...], output: str, dry_run: bool, wait: bool,
        poll_seconds: float | None, debug: bool, interrupt_after: float | None, sweep_parent: str | None,
        sweep_trial: int | None) -> None:
    """Validate CONFIG, create the MLflow run and start the training job."""
    from launcher.config.loader import load_launch_spec

    spec = load_launch_spec(config, overrides)
    print_warnings(spec)
    if dry_run:
        _dry_run(spec, output)
        return
    if debug and spec.mode != "local-process":
        raise click.UsageError("--debug is for mode local-process; use `smlaunch shell` for the image")
    if debug and spec.job.instance_count != 1:
        raise click.UsageError("--debug runs one host in this terminal: set sagemaker.instance_count=1")
    if debug and spec.distribution.torchrun:
        raise click.UsageError("--debug runs the task itself in this terminal, not torchrun's workers: set "
                               "distribution.type=none")
    if interrupt_after is not None and not spec.is_local:
        raise click.UsageError("--interrupt-after rehearses a reclaim locally; on SageMaker, spot does it for real")
    from launcher.commands.launch import launch

    tags = None
    if sweep_parent:
        from launcher.sweep.parent import child_tags

        tags = child_tags(sweep_parent, sweep_trial or 0)
    result = launch(spec, Path.cwd(), wait=wait, poll_seconds=poll_seconds, interactive=debug,
                    interrupt_after=interrupt_after, extra_tags=tags)
    finish_launch(result.as_dict(), output)


def _dry_run(spec: Any, output: str) -> None:
    from launcher.commands.plan import plan
    from launcher.preflight.checks import EXIT_PREFLIGHT

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


@click.command()
@config_argument
@overrides_option
@output_option
@click.option("--sample", type=click.IntRange(min=1), default=None, metavar="N",
              help="Download only the first N objects of each S3 channel.")
@click.option("--mode", type=click.Choice(["local-process", "local-container"]), default=None,
              help="Force where it runs (default: the image when Docker has it, else a local process).")
@click.option("--tracking-uri", default=None, help="Record the rehearsal here (default: a local sqlite store).")
@click.option("--channel", "channels", multiple=True, metavar="NAME=DIR",
              help="A local directory standing in for an S3 channel (repeatable); with one for every channel, "
                   "no AWS is needed.")
def rehearse(config: Path, overrides: tuple[str, ...], output: str, sample: int | None, mode: str | None,
             tracking_uri: str | None, channels: tuple[str, ...]) -> None:
    """Run a SageMaker CONFIG on this machine as it is: pre-flight, its S3 data, its image, its environment."""
    from launcher.commands.rehearse import rehearse as run_rehearsal
    from launcher.preflight.checks import EXIT_PREFLIGHT
    from launcher.tracking.client import preload_mlflow

    preload_mlflow()
    result = run_rehearsal(config, overrides, Path.cwd(), sample, mode, tracking_uri, channels)
    if output == "json":
        click.echo(json.dumps(result.as_dict()))
    click.echo(f"rehearsal: {result.verdict}", err=True)
    if not result.ran:
        sys.exit(EXIT_RUNTIME)
    if not result.preflight.ok:
        sys.exit(EXIT_PREFLIGHT)  # an offline rehearsal that ran exits 0: its verdict says what is left to check


@click.command(context_settings={"ignore_unknown_options": True})
@config_argument
@overrides_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def shell(config: Path, overrides: tuple[str, ...], command: tuple[str, ...]) -> None:
    """Open a shell (or run COMMAND) in the image with the job's /opt/ml tree and environment."""
    from launcher.commands.shell import open_shell
    from launcher.config.loader import load_launch_spec

    spec = load_launch_spec(config, overrides)
    print_warnings(spec)
    sys.exit(open_shell(spec, list(command)))
