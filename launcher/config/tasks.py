"""Where a task's code and schema are, found without importing anything (so `validate` stays fast and a
broken task cannot crash the launcher).

A task is `package.module:function`. Its module is looked for where the job will import it from: the job's
code directories (each one's name is its import name: `../train` provides `train`), the directories its
PYTHONPATH names, then the installed packages. Its own fields are described by `config.schema.json` beside
the module; the training config is validated against the common schema composed with it.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.core.cache import keep, recall
from launcher.core.errors import EXIT_BAD_INPUT, LauncherError

TASK_SCHEMA_FILE = "config.schema.json"


@dataclass(frozen=True)
class TaskSource:
    """A task reference and what was found for it."""

    reference: str
    module_file: Path | None
    schema_file: Path | None

    @property
    def module(self) -> str:
        return self.reference.partition(":")[0]

    @property
    def function(self) -> str:
        return self.reference.partition(":")[2]


def import_roots(code_dirs: tuple[Path, ...], pythonpath: str | None) -> list[Path]:
    """Directories whose children are importable top-level names, in the job's order."""
    roots = [directory.parent for directory in code_dirs]
    roots += [Path(entry) for entry in (pythonpath or "").split(":") if entry and Path(entry).is_dir()]
    return roots


def _in_root(parts: list[str], root: Path) -> Path | None:
    candidate = root.joinpath(*parts)
    for found in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if found.is_file():
            return found
    return None


def _installed(parts: list[str]) -> Path | None:
    """The module's file inside an installed top-level package (the package is located, not imported)."""
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    for location in spec.submodule_search_locations or ():
        found = _in_root(parts[1:], Path(location))
        if found is not None:
            return found
    return None


def find_task(reference: str, roots: list[Path]) -> TaskSource:
    parts = reference.partition(":")[0].split(".")
    module_file = next((found for root in roots if (found := _in_root(parts, root)) is not None), None)
    module_file = module_file or _installed(parts)
    schema = module_file.parent / TASK_SCHEMA_FILE if module_file is not None else None
    return TaskSource(reference, module_file, schema if schema is not None and schema.is_file() else None)


def defines(module_file: Path, name: str) -> bool:
    """Whether the module defines `name` at top level (a function, an assignment or an import), by reading it."""
    try:
        tree = ast.parse(module_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, ast.Import | ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


SCHEMA_CHECKS = "checked-schemas"  # in the user's cache: digests of task schemas that passed their checks


class TaskSchemaError(LauncherError):
    """A task's config.schema.json cannot be used: the message says where and why."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(message)
        self.path, self.line, self.message = path, line, message

    def __str__(self) -> str:
        return f"{self.path}{f':{self.line}' if self.line else ''}: {self.message}"


def load_task_schema(path: Path) -> dict[str, Any]:
    """A task's schema, checked: valid JSON (else where it breaks), a valid JSON Schema, and every `default` a
    value its own field accepts (a default no config could hold would reach every job that relies on it)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        text = path.read_text(encoding="utf-8")
        schema: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as error:
        raise TaskSchemaError(path, error.lineno, f"invalid JSON: {error.msg} (column {error.colno})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TaskSchemaError(path, 0, f"cannot read it: {error}") from None
    if not isinstance(schema, dict):
        raise TaskSchemaError(path, 1, "a task schema is a JSON object (a JSON Schema for the task's fields)")
    # checking against the meta-schema takes most of a second for 1,000 fields: a schema that passed is not
    # checked again until it (or the meta-schema) changes
    verdict = ("task schema", json.dumps(Draft202012Validator.META_SCHEMA, sort_keys=True), text)
    if recall(SCHEMA_CHECKS, *verdict) is not None:
        return schema
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = ".".join(str(part) for part in error.absolute_path) or "top level"
        raise TaskSchemaError(path, 0, f"not a valid JSON Schema at {where}: {error.message}") from None
    for field, default, subschema in _defaults(schema, ()):
        refused = next(iter(Draft202012Validator(subschema).iter_errors(default)), None)
        if refused is not None:
            raise TaskSchemaError(path, 0, f"the default of {field} ({default!r}) is not valid for it: "
                                           f"{refused.message}")
    keep(SCHEMA_CHECKS, *verdict)
    return schema


def _defaults(schema: dict[str, Any], path: tuple[str, ...]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(field path, default, its schema) for every property with a `default`."""
    found = []
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, dict):
            if "default" in sub:
                found.append((".".join((*path, name)), sub["default"], sub))
            found += _defaults(sub, (*path, name))
    return found


METRICS_KEY = "x-metrics"  # in a task's config.schema.json: the metric names it logs


def task_metrics(task: TaskSource | None) -> list[str] | None:
    """The metrics a task declares it logs (`"x-metrics": [...]` in its schema), or None when it does not say."""
    if task is None or task.schema_file is None:
        return None
    declared = load_task_schema(task.schema_file).get(METRICS_KEY)
    return [str(name) for name in declared] if isinstance(declared, list) else None


def compose(common: dict[str, Any], task: dict[str, Any] | None) -> dict[str, Any]:
    """The common training schema with the task's fields added (nested objects merged: `data` gets the task's
    file fields next to the common `channel`). Without a task schema, the task's fields are let through."""
    result = copy.deepcopy(common)
    if task is None:
        _open_objects(result)
        return result
    _merge(result, task)
    for key in ("title", "description"):
        if key in task:
            result[key] = f"{task[key]} (with the common fields of every task)" if key == "title" else task[key]
    return result


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    properties = into.setdefault("properties", {})
    for name, schema in extra.get("properties", {}).items():
        if name in properties and "properties" in properties[name] and "properties" in schema:
            _merge(properties[name], schema)
        else:
            properties[name] = copy.deepcopy(schema)
    required = list(dict.fromkeys([*into.get("required", []), *extra.get("required", [])]))
    if required:
        into["required"] = required


def _open_objects(schema: dict[str, Any]) -> None:
    schema["additionalProperties"] = True
    for sub in schema.get("properties", {}).values():
        if isinstance(sub, dict) and sub.get("type") == "object":
            _open_objects(sub)


def channel_files(schema: dict[str, Any], training: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field path, channel, file) for every field the schema marks `x-file-in-channel`: a file the task
    will open inside the channel its `data.channel` names (pre-flight checks it is there)."""
    channel = str(training.get("data", {}).get("channel", ""))
    found = []

    def walk(node: dict[str, Any], values: Any, path: tuple[str, ...]) -> None:
        for name, sub in node.get("properties", {}).items():
            if not isinstance(values, dict) or name not in values:
                continue
            if sub.get("x-file-in-channel") and isinstance(values[name], str) and channel:
                found.append((".".join(("train", *path, name)), channel, values[name]))
            walk(sub, values[name], (*path, name))

    walk(schema, training, ())
    return found
