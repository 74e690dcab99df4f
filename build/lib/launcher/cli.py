"""The `smlaunch` command line: parse, call the library, map errors to a message and an exit code.

Kept thin on purpose; heavy modules (mlflow, torch) load only inside the commands that need them.
Exit codes: 0 done, 1 the job or the launch failed, 2 bad input, 3 a pre-flight check failed, 128+N a signal
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). No traceback for anything a user can cause; SMLAUNCH_DEBUG=1 shows it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from launcher import __version__
from launcher.commands.options import (
    config_argument,
    job_command,
    output_option,
    overrides_option,
    print_launch,
    print_mapping,
    tracking_option,
)
from launcher.errors import EXIT_RUNTIME, Interrupted, LauncherError, interruption


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
    from launcher.config.loader import load_launch_spec
    from launcher.config.tracking_uri import redact

    spec = load_launch_spec(config, overrides)
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


@cli.command()
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
def run(config: Path, overrides: tuple[str, ...], output: str, dry_run: bool, wait: bool,
        poll_seconds: float | None, debug: bool, interrupt_after: float | None) -> None:
    """Validate CONFIG, create the MLflow run and start the training job."""
    from launcher.config.loader import load_launch_spec
    from launcher.tracking.client import preload_mlflow

    if not dry_run:
        preload_mlflow()  # ≈2 s of imports, overlapped with validation and pre-flight
    spec = load_launch_spec(config, overrides)
    if dry_run:
        _dry_run(spec, output)
        return
    if debug and spec.mode != "local-process":
        raise click.UsageError("--debug is for mode local-process; use `smlaunch shell` for the image")
    if interrupt_after is not None and not spec.is_local:
        raise click.UsageError("--interrupt-after rehearses a reclaim locally; on SageMaker, spot does it for real")
    from launcher.commands.launch import launch

    result = launch(spec, Path.cwd(), wait=wait, poll_seconds=poll_seconds, interactive=debug,
                    interrupt_after=interrupt_after)
    _finish(result.as_dict(), output)


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


def _finish(report: dict[str, Any], output: str) -> None:
    """Print a launch's report; exit 1 unless the run finished (or, on SageMaker, is running)."""
    print_launch(report, output)
    if report["status"] not in ("FINISHED", "RUNNING"):
        sys.exit(EXIT_RUNTIME)


@cli.command(context_settings={"ignore_unknown_options": True})
@config_argument
@overrides_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def shell(config: Path, overrides: tuple[str, ...], command: tuple[str, ...]) -> None:
    """Open a shell (or run COMMAND) in the image with the job's /opt/ml tree and environment."""
    from launcher.commands.shell import open_shell
    from launcher.config.loader import load_launch_spec

    sys.exit(open_shell(load_launch_spec(config, overrides), list(command)))


@cli.command()
@job_command
def status(identifier: str, tracking_uri: str, region: str | None, output: str) -> None:
    """Show the state of a launched job and its MLflow run."""
    from launcher.cloud import jobs

    print_mapping(jobs.status(jobs.find(identifier, _absolute(tracking_uri), region)), output)


@cli.command()
@job_command
def stop(identifier: str, tracking_uri: str, region: str | None, output: str) -> None:
    """Stop a SageMaker job and end its MLflow run KILLED."""
    from launcher.cloud import jobs

    print_mapping(jobs.stop(jobs.find(identifier, _absolute(tracking_uri), region)), output)


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
    from launcher.commands.reproduce import reproduce as run_again

    report = run_again(run_id, _absolute(tracking_uri), Path.cwd(), mode, overrides, strict, wait).as_dict()
    _finish({**report, "reproduced_from": run_id}, output)


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@tracking_option
@output_option
def diff(run_a: str, run_b: str, tracking_uri: str, output: str) -> None:
    """Show what differs between two runs: params, provenance, data, final metrics."""
    from launcher.commands.diff import diff_runs, render

    report = diff_runs(_absolute(tracking_uri), run_a, run_b)
    click.echo(json.dumps(report) if output == "json" else render(report))


@cli.command()
@click.option("--markdown", is_flag=True, help="Render the configuration reference (docs/configuration.md).")
@click.option("--task", "task", default=None, metavar="MODULE:FUNCTION",
              help="With `training`: the schema composed with this task's own fields.")
@click.option("--write-tasks", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write DIR/<task>.schema.json (composed) for every task under ./train (editors read them).")
@click.argument("kind", type=click.Choice(["job", "training"]), required=False)
def schema(markdown: bool, task: str | None, write_tasks: Path | None, kind: str | None) -> None:
    """Print a config JSON Schema (job, or training with --task), or with --markdown the whole reference."""
    from launcher.config.reference import composed_task_schemas, render_markdown

    train_dir = Path.cwd() / "train"
    if markdown:
        click.echo(render_markdown(train_dir), nl=False)
        return
    if write_tasks is not None:
        write_tasks.mkdir(parents=True, exist_ok=True)
        for name, text in composed_task_schemas(train_dir).items():
            (write_tasks / f"{name}.schema.json").write_text(text, encoding="utf-8")
            click.echo(f"wrote {write_tasks / name}.schema.json", err=True)
        return
    from launcher.config.tasks import compose, find_task, import_roots, load_task_schema
    from launcher.config.validation import JOB_SCHEMA, TRAINING_SCHEMA, load_schema

    if kind != "training":
        click.echo(json.dumps(load_schema(JOB_SCHEMA), indent=2))
        return
    found = find_task(task, import_roots((train_dir,), None)) if task else None
    if task and (found is None or found.schema_file is None):
        raise click.UsageError(f"no config.schema.json found beside the module of {task}")
    extra = load_task_schema(found.schema_file) if found and found.schema_file else {}
    click.echo(json.dumps(compose(load_schema(TRAINING_SCHEMA), extra), indent=2))


@cli.command("new-task")
@click.argument("name")
def new_task(name: str) -> None:
    """Scaffold task NAME: train/NAME/ (code, schema, test) and configs that run green at once."""
    from launcher.commands.new_task import scaffold

    written = scaffold(Path.cwd(), name)
    for path in written:
        click.echo(f"wrote {path.relative_to(Path.cwd())}")
    click.echo(f"run it: smlaunch run configs/{name}.yaml   (or make run CONFIG=configs/{name}.yaml)")


def _absolute(uri: str) -> str:
    from launcher.config.tracking_uri import resolve

    return resolve(uri, Path.cwd())


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP become an exception in the main thread, as Ctrl-C does, so every cleanup path runs.
    Later signals are ignored while that cleanup stops the job and records the run."""
    for name in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(name, signal.SIG_IGN)
    raise Interrupted(signum)


def _report_error(message: str, code: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": code}))
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for `--output json` (errors are then JSON on stdout too)."""
    return "--output=json" in argv or any(pair == ("--output", "json") for pair in itertools.pairwise(argv))


def main() -> None:
    """Entry point: run the CLI; every failure becomes a message on stderr (and JSON with --output json).

    When the command is done (output printed, the run recorded), the process leaves without Python's teardown,
    which for a launch that imported mlflow takes most of a second and has nothing left to do.
    """
    try:
        _run_cli()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _run_cli() -> None:
    for name in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(name, _raise_interrupted)
    as_json = _wants_json(sys.argv[1:])
    debug = bool(os.environ.get("SMLAUNCH_DEBUG"))
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as aborted:  # click turns KeyboardInterrupt (and our signals) into Abort
        cause = interruption(aborted.__cause__) if isinstance(aborted.__cause__, KeyboardInterrupt) else None
        _report_error(cause.reason if cause else "aborted", cause.exit_code if cause else 130, as_json)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt as stop:
        cause = interruption(stop)
        _report_error(cause.reason, cause.exit_code, as_json)
    except LauncherError as error:
        if debug:
            raise
        _report_error(str(error), error.exit_code, as_json)
    except OSError as error:  # a full disk, a permission, a vanished file: the user's environment, not a bug
        if debug:
            raise
        _report_error(f"{error.strerror or error} ({error.filename or 'no file'})", EXIT_RUNTIME, as_json)
    except Exception as error:  # a bug, but a user should still see one line; the traceback is one flag away
        if debug:
            raise
        _report_error(f"unexpected {type(error).__name__}: {error} (SMLAUNCH_DEBUG=1 shows the traceback)",
                      EXIT_RUNTIME, as_json)
