"""Parse and apply `--set dotted.path=value` overrides; values are typed by YAML's scalar rules (YAML 1.2's).

A value that looks like a credential is never shown: its place reads `--set key=<hidden>` in every message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from launcher.config.yaml_source import (
    OVERRIDE_SOURCE,
    ConfigPath,
    Location,
    YamlDocument,
    format_path,
    parse_yaml_value,
    problem,
)
from launcher.core.errors import ConfigError
from launcher.core.guard import check


@dataclass(frozen=True)
class Override:
    """One `--set` item: the path it sets, the typed value, and the text as typed (for messages)."""

    path: tuple[str, ...]
    value: Any
    text: str
    raw: str = ""
    position: int = 0  # its place on the command line: problems are reported in that order

    @property
    def location(self) -> Location:
        return Location(f"{OVERRIDE_SOURCE}{shown(self.text)}", self.position + 1)


def shown(text: str) -> str:
    """A `--set` item as messages show it: `key=<hidden>` when its value looks like a credential."""
    key, sep, raw = text.partition("=")
    if sep and check(key.strip().split(".")[-1], raw) is not None:
        return f"{key}=<hidden>"
    return text


def parse_override(text: str, position: int = 0) -> Override:
    """`a.b=1` → Override(('a', 'b'), 1). A value that is not valid YAML is taken as a plain string."""
    where = Location(f"{OVERRIDE_SOURCE}{shown(text)}", position + 1)
    key, sep, raw = text.partition("=")
    parts = tuple(key.strip().split("."))
    if not sep or not key.strip() or any(not part for part in parts):
        raise ConfigError([problem(where, (), "expected KEY=VALUE with a dotted key, e.g. train.optimizer.lr=0.01")])
    try:
        value = parse_yaml_value(raw, where.source) if raw.strip() else ""
    except ConfigError as error:  # e.g. an unsafe tag or an alias bomb in the value
        raise ConfigError([problem(where, parts, found.message) for found in error.problems]) from None
    return Override(parts, value, text, raw, position)


def as_string(override: Override) -> Override:
    """The same override with its value kept as typed text (for fields the schema says are strings)."""
    return Override(override.path, override.raw, override.text, override.raw, override.position)


def apply_override(document: YamlDocument, override: Override, prefix: ConfigPath = ()) -> None:
    """Set `override` (its path minus `prefix`) inside `document`, creating intermediate mappings; a null value
    (`--set sagemaker.checkpoint_s3_uri=null`) removes the key, so its default (or its absence) applies."""
    path = override.path[len(prefix) :]
    target: Any = document.data
    for depth, part in enumerate(path[:-1]):
        child = target.get(part) if isinstance(target, dict) else None
        if child is None:
            child = target[part] = {}
        if not isinstance(child, dict):
            shown = format_path(prefix + path[: depth + 1])
            raise ConfigError(
                [problem(override.location, override.path, f"cannot set a key inside {shown}: it is not a mapping")]
            )
        target = child
    for known in [known for known in document.values if known[: len(path)] == path]:
        del document.values[known]
    if override.value is None:
        target.pop(path[-1], None)
        return
    target[path[-1]] = override.value
    document.values[path] = override.location
    document.keys[path] = override.location
