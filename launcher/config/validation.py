"""Check a loaded config against its JSON Schema and turn every violation into a located, actionable problem."""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

from launcher.config.yaml12 import YAML11_BOOLEANS
from launcher.config.yaml_source import ConfigPath, YamlDocument, format_path, problem
from launcher.core.errors import ConfigProblem
from launcher.core.guard import check, in_value

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"  # ../../schemas, shipped in the wheel as package data
JOB_SCHEMA = "job.schema.json"
TRAINING_SCHEMA = "training.schema.json"
SWEEP_SCHEMA = "sweep.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema file `schemas/<name>`."""
    with (SCHEMA_DIR / name).open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def validate_document(document: YamlDocument, schema: dict[str, Any], prefix: ConfigPath = ()) -> list[ConfigProblem]:
    """All schema violations of `document`, each located in its file (or at the `--set` that caused it).

    `prefix` is prepended to field paths in messages (the training config's fields read `train.…`).
    """
    from jsonschema import Draft202012Validator  # imported here: ~60 ms that `--help` need not pay

    validator = Draft202012Validator(schema)
    problems: list[ConfigProblem] = []
    for error in validator.iter_errors(document.data):
        path: ConfigPath = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            problems.extend(_unknown_keys(document, path, error.instance, error.schema, prefix))
        elif error.validator == "required":
            missing = str(error.message).split("'")[1] if "'" in str(error.message) else str(error.message)
            where = "at top level" if not path else "under " + _dotted(prefix + path)
            problems.append(
                problem(document.locate(path, key=True), prefix + path, f"missing required key '{missing}' ({where})")
            )
        elif "propertyNames" in error.schema_path:
            problems.append(_bad_name(document, path, error, prefix))
        else:
            problems.append(problem(document.locate(path), prefix + path, _unechoed(_describe(error), error, path)))
    return problems


def _unechoed(message: str, error: Any, path: ConfigPath) -> str:
    """The message without the value it is about when that value looks like a credential (only its kind)."""
    name = next((str(part) for part in reversed(path) if isinstance(part, str)), "")
    found = check(name, error.instance) if isinstance(error.instance, str) else None
    if found is None:
        return message
    hidden = f"<the value, which looks like {found.kind.removeprefix('the value looks like ')}>"
    return message.replace(repr(error.instance), hidden).replace(str(error.instance), hidden)


def _dotted(path: ConfigPath) -> str:
    return ".".join(str(part) for part in path) or "top level"


def _unknown_keys(
    document: YamlDocument, path: ConfigPath, instance: dict[str, Any], schema: dict[str, Any], prefix: ConfigPath
) -> list[ConfigProblem]:
    known = list(schema.get("properties", {}))
    found: list[ConfigProblem] = []
    for key in instance:
        if key in known:
            continue
        if in_value(key) is not None:  # a credential pasted where a key goes: say where, never what
            found.append(problem(document.locate((*path, key), key=True), (*prefix, *path),
                                 "an unknown key that looks like a credential (not shown)"))
            continue
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if hint:
            advice = f"did you mean '{hint[0]}'?"
        else:
            advice = "allowed here: " + ", ".join(repr(name) for name in known) if known else "no keys allowed"
        location = document.locate((*path, key), key=True)
        found.append(problem(location, (*prefix, *path, key), f"unknown key '{key}' — {advice}"))
    return found


def _bad_name(document: YamlDocument, path: ConfigPath, error: Any, prefix: ConfigPath) -> ConfigProblem:
    """A key that breaks `propertyNames`: jsonschema reports the key itself as the instance."""
    key_path = (*path, error.instance) if isinstance(error.instance, str) else path
    reason = error.schema.get("errorMessage", error.message) if isinstance(error.schema, dict) else error.message
    location = document.locate(key_path, key=True)
    return problem(location, (*prefix, *key_path), f"invalid name {error.instance!r}: {reason}")


def _describe(error: Any) -> str:
    """A short message for one jsonschema error, phrased for config authors."""
    kind = error.validator
    explained = ("pattern", "not", "const", "anyOf")
    if isinstance(error.schema, dict) and "errorMessage" in error.schema and kind in explained:
        return f"{error.instance!r} is not valid: {error.schema['errorMessage']}"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        article = "an" if str(expected)[0] in "aeiou" else "a"
        return f"{error.instance!r} is not {article} {expected}"
    if kind == "enum":
        allowed = ", ".join(repr(choice) for choice in error.validator_value)
        hint = difflib.get_close_matches(str(error.instance), [str(c) for c in error.validator_value], n=1)
        advice = f" — did you mean {hint[0]!r}?" if hint else ""
        return f"{error.instance!r} is not one of {allowed}{advice}"
    return str(error.message)


def read_yaml11_booleans(document: YamlDocument, schema: dict[str, Any], prefix: ConfigPath = ()) -> list[str]:
    """Where the schema wants a boolean and the file says `yes`/`no`/`on`/`off` (YAML 1.1's booleans, strings by
    YAML 1.2's rules, which configs are read by): the boolean it meant, in place, and a warning saying where."""
    warnings: list[str] = []

    def walk(data: Any, node: dict[str, Any] | None, path: ConfigPath) -> None:
        if not isinstance(data, dict) or node is None:
            return
        properties, extra = node.get("properties", {}), node.get("additionalProperties")
        for key, value in data.items():
            sub = properties.get(key) if key in properties else (extra if isinstance(extra, dict) else None)
            if sub is None:
                continue
            if sub.get("type") == "boolean" and isinstance(value, str) and value.lower() in YAML11_BOOLEANS:
                data[key] = YAML11_BOOLEANS[value.lower()]
                where = document.locate((*path, key))
                warnings.append(f"{where}: {format_path((*prefix, *path, key))}: {value!r} read as "
                                f"{str(data[key]).lower()} (a YAML 1.1 boolean; configs are YAML 1.2): write "
                                f"{str(data[key]).lower()}")
            else:
                walk(value, sub, (*path, key))

    walk(document.data, schema, ())
    return warnings


def schema_at(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    """The subschema describing `path` (through properties and additionalProperties), or None if unknown."""
    current: dict[str, Any] | None = schema
    for part in path:
        if current is None:
            return None
        properties = current.get("properties", {})
        extra = current.get("additionalProperties")
        current = properties.get(part) if part in properties else (extra if isinstance(extra, dict) else None)
    return current
