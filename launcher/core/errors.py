"""The launcher's error types: data in, message out, one exit code per kind of failure."""

from __future__ import annotations

import signal
from dataclasses import dataclass

EXIT_RUNTIME = 1
EXIT_BAD_INPUT = 2


class LauncherError(Exception):
    """Base class of every error the CLI turns into a message instead of a traceback."""

    exit_code = EXIT_RUNTIME


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One thing wrong with a config: where (file:line:col or '--set ...'), which field, and what."""

    sort_key: tuple[str, int, int]
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.where}: {field}{self.message}"


class ConfigError(LauncherError):
    """A config file or override is invalid; every problem found is reported at once."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(problems)
        self.problems = _in_reading_order(problems)

    def __str__(self) -> str:
        count = len(self.problems)
        header = "1 problem in the config:" if count == 1 else f"{count} problems in the config:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])


class ExecutionError(LauncherError):
    """The launcher could not start or follow the job (environment, tools, permissions)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP reached the launcher: stop the job, end the run KILLED, exit 128 + signal."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def reason(self) -> str:
        if self.signum == signal.SIGINT:
            return "stopped by the user (Ctrl-C)"
        return f"stopped by {signal.Signals(self.signum).name}"


def interruption(error: KeyboardInterrupt) -> Interrupted:
    """A plain KeyboardInterrupt (Ctrl-C outside our handlers) as an Interrupted by SIGINT."""
    return error if isinstance(error, Interrupted) else Interrupted(signal.SIGINT)


def _in_reading_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Files in the order they were read (job config, then training config), by position; `--set` items last."""
    first_seen: dict[str, int] = {}
    for found in problems:
        first_seen.setdefault(found.sort_key[0], len(first_seen))

    def key(found: ConfigProblem) -> tuple[bool, int, int, int]:
        source, line, column = found.sort_key
        if source.startswith("--set "):  # in command-line order (line = the item's place)
            return (True, 0, line, column)
        return (False, first_seen[source], line, column)

    return sorted(problems, key=key)
