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
from types import FrameType

import click

from launcher import __version__
from launcher.commands import cli_launch, cli_project, cli_runs, cli_sweep
from launcher.core.errors import EXIT_RUNTIME, Interrupted, LauncherError, interruption
from launcher.core.guard import redact
from train.contract.files import private_umask
from train.contract.timeline import mark


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smlaunch")
def cli() -> None:
    """Launch training jobs from validated YAML configs, tracked in MLflow."""


for command in (cli_launch.validate, cli_launch.run, cli_sweep.sweep, cli_launch.rehearse, cli_launch.shell,
                cli_runs.status, cli_runs.stop, cli_runs.list_runs, cli_runs.reproduce, cli_runs.diff,
                cli_project.schema, cli_project.new_task):
    cli.add_command(command)


PROJECT_COMMANDS = ("new-task", "schema")  # these write the project's own sources, with the user's umask


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP become an exception in the main thread, as Ctrl-C does, so every cleanup path runs.
    Later signals are ignored while that cleanup stops the job and records the run."""
    for name in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(name, signal.SIG_IGN)
    raise Interrupted(signum)


def _report_error(message: str, code: int, as_json: bool) -> None:
    message = redact(message)  # the last line of defence: no credential shape is ever printed back
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
    mark("launcher_start")
    if not set(sys.argv[1:2]) & set(PROJECT_COMMANDS):
        private_umask()  # what the launcher writes (the store, configs, code, outputs) is its user's alone
    try:
        _run_cli()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    mark("report")
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
    except click.ClickException as error:  # usage errors echo what was typed: shown through the guard
        if isinstance(error, click.UsageError) and error.ctx is not None:
            click.echo(f"{error.ctx.get_usage()}\nTry '{error.ctx.command_path} -h' for help.\n", err=True)
        click.echo(redact(f"Error: {error.format_message()}"), err=True)
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
