"""The training config: loaded (with `extends`), its task found, `train.` overrides applied, and validated against
the common training schema composed with the task's own (`config.schema.json` beside the task's module).

The task is found before the overrides are applied, because the composed schema decides how an override is
typed (a string field keeps `--set train.x=1` as the text "1").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.config.composition import foreign_files, load_composed
from launcher.config.overrides import Override, apply_override, as_string
from launcher.config.spec import TRAIN_KEY
from launcher.config.tasks import TaskSchemaError, TaskSource, compose, defines, find_task, load_task_schema
from launcher.config.validation import (
    TRAINING_SCHEMA,
    load_schema,
    read_yaml11_booleans,
    schema_at,
    validate_document,
)
from launcher.config.yaml_source import Location, YamlDocument, problem
from launcher.core.errors import ConfigError, ConfigProblem

TASK_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class TrainingConfig:
    """The loaded training document, its files (base first), its task, and the schema it was checked against."""

    document: YamlDocument
    files: tuple[Path, ...]
    task: TaskSource | None
    schema: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def load_training(path: Path, display: str, overrides: list[Override], roots: list[Path],
                  problems: list[ConfigProblem]) -> TrainingConfig | None:
    """Load the training config at `path`; problems go to `problems` (None when it cannot be read at all)."""
    try:
        document, files = load_composed(path, display)
    except ConfigError as error:
        problems.extend(error.problems)
        return None
    loaded = TrainingConfig(document, files, None, compose(load_schema(TRAINING_SCHEMA), {}))
    task_override = next((item for item in overrides if item.path == (TRAIN_KEY, "task")), None)
    reference = task_override.value if task_override is not None else document.data.get("task")
    if isinstance(reference, str) and TASK_PATTERN.match(reference):
        loaded.task, loaded.schema = _find(reference, roots, loaded, problems, task_override)
    foreign = foreign_files(document, loaded.schema.get("properties", {}), "training")
    if foreign and not loaded.schema.get("additionalProperties", False):  # (an open schema prints no key)
        problems.extend(foreign)
        return None
    for item in overrides:
        if len(item.path) == 1:
            problems.append(problem(item.location, item.path, "set a field inside it, e.g. train.epochs=5"))
        else:
            _apply(document, item, loaded.schema, problems)
    loaded.warnings.extend(read_yaml11_booleans(document, loaded.schema, prefix=(TRAIN_KEY,)))
    problems.extend(validate_document(document, loaded.schema, prefix=(TRAIN_KEY,)))
    return loaded


def _find(reference: str, roots: list[Path], loaded: TrainingConfig, problems: list[ConfigProblem],
          task_override: Override | None) -> tuple[TaskSource, dict[str, Any]]:
    task = find_task(reference, roots)
    where = task_override.location if task_override is not None else loaded.document.locate(("task",))
    common = load_schema(TRAINING_SCHEMA)
    if task.module_file is None:
        places = ", ".join(os.path.relpath(root) for root in roots) or "the installed packages"
        wanted = Path(*task.module.split(".")).with_suffix(".py")
        problems.append(problem(where, (TRAIN_KEY, "task"), f"module {task.module} not found (looked for {wanted} "
                                f"under {places}): create it (smlaunch new-task NAME scaffolds one) or add its "
                                "directory to code.dirs"))
        return task, compose(common, None)
    if not defines(task.module_file, task.function):
        problems.append(problem(where, (TRAIN_KEY, "task"), f"{os.path.relpath(task.module_file)} defines no "
                                f"{task.function}: add `def {task.function}(ctx):` there, or fix the task name"))
    if task.schema_file is None:
        loaded.warnings.append(f"task {reference} has no {Path(task.module_file).parent.name}/config.schema.json: "
                               "its own fields are not checked")
        return task, compose(common, None)
    try:
        return task, compose(common, load_task_schema(task.schema_file))
    except TaskSchemaError as error:
        shown = os.path.relpath(error.path)
        problems.append(problem(Location(shown, error.line, 1 if error.line else 0), (), error.message))
        return task, compose(common, None)


def _apply(document: YamlDocument, item: Override, schema: dict[str, Any], problems: list[ConfigProblem]) -> None:
    target = schema_at(schema, item.path[1:])
    if target is not None and target.get("type") == "string" and item.value is not None \
            and not isinstance(item.value, str):
        item = as_string(item)  # `--set train.name=1` means the string "1"
    try:
        apply_override(document, item, (TRAIN_KEY,))
    except ConfigError as error:
        problems.extend(error.problems)
