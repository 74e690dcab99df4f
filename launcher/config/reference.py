"""Render the JSON Schemas as the configuration reference users read (docs/configuration.md).

Generated, never edited by hand: `make docs` writes it and a test fails when it is out of date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from launcher.config.tasks import compose, load_task_schema
from launcher.config.validation import JOB_SCHEMA, SWEEP_SCHEMA, TRAINING_SCHEMA, load_schema

HEADER = """# Configuration reference

Generated from `schemas/*.schema.json` and each task's `train/<task>/config.schema.json` by `make docs`
(`smlaunch schema --markdown`); do not edit by hand. Every field can be overridden on the command line with
`--set <field>=<value>`; training config fields take the `train.` prefix there (`--set train.optimizer.lr=0.01`),
and carry the same names as MLflow params.
"""


def task_schemas(train_dir: Path) -> dict[str, Path]:
    """{task name: its config.schema.json} for every task package under `train_dir` (train/<name>/)."""
    return {path.parent.name: path for path in sorted(train_dir.glob("*/config.schema.json"))}


def render_markdown(train_dir: Path) -> str:
    """The whole reference: the job config, the fields every training config has, each task's own, then the
    sweep file."""
    parts = [HEADER]
    sections = [(load_schema(JOB_SCHEMA), f"Job config (`schemas/{JOB_SCHEMA}`)", ""),
                (load_schema(TRAINING_SCHEMA), f"Training config: every task (`schemas/{TRAINING_SCHEMA}`)", "train.")]
    sections += [(load_task_schema(path), f"Training config: task `{name}` (`train/{name}/config.schema.json`)",
                  "train.") for name, path in task_schemas(train_dir).items()]
    sweep = load_schema(SWEEP_SCHEMA)
    sections += [(sweep, f"Sweep file (`schemas/{SWEEP_SCHEMA}`)", ""),
                 (sweep["$defs"]["parameter"], "Sweep parameter (`parameters.<path>`)", "parameters.<path>.")]
    for schema, title, prefix in sections:
        parts += [f"## {title}", "", schema.get("description", ""), ""]
        parts += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        parts += [_row(prefix + path, sub, required) for path, sub, required in _fields(schema, "")]
        parts += ["", *_conditions(schema), ""]
    return "\n".join(parts).rstrip() + "\n"


def composed_task_schemas(train_dir: Path) -> dict[str, str]:
    """{task name: the common training schema composed with the task's, as JSON}: what editors validate
    `configs/train/<task>.yaml` against (schemas/tasks/<task>.schema.json)."""
    common = load_schema(TRAINING_SCHEMA)
    return {name: json.dumps(compose(common, load_task_schema(path)), indent=2) + "\n"
            for name, path in task_schemas(train_dir).items()}


def _fields(schema: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted path, subschema, required in its parent) for every field, depth first."""
    required = schema.get("required", [])
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, sub, name in required
        yield from _fields(sub, path + ".")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield f"{path}.<name>", extra, False
            yield from _fields(extra, f"{path}.<name>.")


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {schema.get('items', {}).get('type', 'value')}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = schema["additionalProperties"].get("type", "value")
        return f"map of {inner}"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> list[str]:
    notes = []
    bounds = [(key, schema[key]) for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
                                               "minLength", "maxLength", "minItems", "maxItems",
                                               "minProperties", "maxProperties") if key in schema]
    notes += [f"{key} {value}" for key, value in bounds]
    if "pattern" in schema:
        escaped = schema["pattern"].replace("|", "\\|")  # a bare | would split the table cell
        notes.append(f"pattern `{escaped}`")
    if "examples" in schema:
        notes.append("e.g. " + ", ".join(f"`{example}`" for example in schema["examples"]))
    return notes


def _row(path: str, schema: dict[str, Any], required: bool) -> str:
    default = f"`{json.dumps(schema['default'])}`" if "default" in schema else ("**required**" if required else "")
    text = schema.get("description", "")
    notes = _constraints(schema)
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return f"| `{path}` | {_type(schema)} | {default} | {text} |"


def _conditions(schema: dict[str, Any]) -> list[str]:
    lines = []
    for rule in schema.get("allOf", []):
        condition = rule.get("if", {}).get("properties", {})
        then = rule.get("then", {})
        for field, test in condition.items():
            required = [f"`{name}`" for name in then.get("required", [])]
            for parent, sub in then.get("properties", {}).items():
                required += [f"`{parent}.{name}`" for name in sub.get("required", [])]
                required += [f"`{parent}.{name}` matching `{rule_['pattern']}`"
                             for name, rule_ in sub.get("properties", {}).items() if "pattern" in rule_]
            lines.append(f"- When `{field}` is `{test.get('const')}`: " + ", ".join(required) + ".")
    return lines
