"""Refuse a config that would put a credential into the record: every value (params, hyperparameters, tags,
the job's Environment, the run's description, `--set` items) and every line of every config file (they are
kept with the run, comments included) is checked before anything is created.

A finding is a located ConfigProblem that names the place and the kind of credential, never the value (a
`--set` item is shown without its value). Credentials belong in Secrets Manager, named under `secrets:`;
a false positive is listed under `not_secrets:` (and recorded on the run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from launcher.config.yaml_source import ConfigPath, Location, format_path, problem
from launcher.core.errors import ConfigProblem
from launcher.core.guard import Finding, check, in_line, scan_text

REFERENCES = ("secrets", "not_secrets")  # references to secrets, and the escape hatch itself
ADVICE = ("credentials never go into a config (they would be recorded as a param, an artifact and the job's "
          "Environment): store it in Secrets Manager and name it under `secrets:`")


def _leaves(data: Any, path: ConfigPath = ()) -> Iterator[tuple[ConfigPath, Any]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(data, list | tuple):
        for index, item in enumerate(data):
            yield from _leaves(item, (*path, index))
    else:
        yield path, data


def _message(finding: Finding, dotted: str) -> str:
    return f"{finding}: {ADVICE}, or list {dotted} under not_secrets if it is not a credential"


def check_values(resolved: Mapping[str, Any], allowed: set[str],
                 locate: Callable[[ConfigPath], Location]) -> list[ConfigProblem]:
    """A problem for each value that looks like a credential, by its name or its shape."""
    found = []
    for path, value in _leaves(resolved):
        dotted = format_path(path)
        if path[0] in REFERENCES or dotted in allowed or dotted.split("[")[0] in allowed:
            continue
        name = next((str(part) for part in reversed(path) if isinstance(part, str)), "")
        hit = check(name, value)
        if hit is not None:
            found.append(problem(locate(path), path, _message(hit, dotted)))
    return found


def check_files(files: list[tuple[str, Path]], skip: set[tuple[str, int]]) -> list[ConfigProblem]:
    """A problem for each config file line (comments included) holding a credential shape, except `skip`
    (lines already reported as a value, or allowed)."""
    found = []
    for shown, path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for line, hit in scan_text(text, path.name):
            if (shown, line) not in skip:
                found.append(problem(Location(shown, line, 1), (), f"this line holds what looks like {hit.kind}, and "
                                     f"the file is kept with the run (comments too): {ADVICE}"))
    return found


def check_derived(value: str, filename: str = "derived.txt") -> Finding | None:
    """For text the launcher derives (a git remote, a line of a diff): the shape (or a keyword assignment, for
    a line of a file named `filename`) decides."""
    return in_line(value, filename)
