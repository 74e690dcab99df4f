"""`smlaunch new-task NAME`: scaffold a task that runs green at once — its code, schema and test under
train/NAME/, a training config and a local job config under configs/, and the composed schema editors read.

Nothing existing is overwritten: if any file is already there, nothing is written and the command says which.
"""

from __future__ import annotations

import json
import keyword
import re
from pathlib import Path
from string import Template

from launcher.config.tasks import compose, find_task, import_roots, load_task_schema
from launcher.config.validation import TRAINING_SCHEMA, load_schema
from launcher.core.errors import EXIT_BAD_INPUT, LauncherError

TEMPLATES = Path(__file__).resolve().parent / "task_template"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
FILES = {  # template → where it goes, relative to the project
    "__init__.py.tmpl": "train/$name/__init__.py",
    "task.py.tmpl": "train/$name/task.py",
    "config.schema.json.tmpl": "train/$name/config.schema.json",
    "test_task.py.tmpl": "train/$name/test_task.py",
    "training.yaml.tmpl": "configs/train/$name.yaml",
    "job.yaml.tmpl": "configs/$name.yaml",
}


class ScaffoldRefused(LauncherError):
    exit_code = EXIT_BAD_INPUT


def check_name(name: str) -> None:
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldRefused(f"task name {name!r}: use a lowercase Python identifier (letters, digits, _), "
                              "e.g. churn or image_classifier")
    if name in ("runtime", "contract", "tracking", "metrics", "models", "testing", "secrets", "bootstrap"):
        raise ScaffoldRefused(f"task name {name!r} is a module of the runtime (train.{name}): pick another")


def composed_schema_file(project: Path, name: str) -> Path:
    return project / "schemas" / "tasks" / f"{name}.schema.json"


def write_composed_schema(project: Path, name: str) -> Path:
    """schemas/tasks/NAME.schema.json: the common training schema with the task's fields (for editors)."""
    task = find_task(f"train.{name}.task:run", import_roots((project / "train",), None))
    if task.schema_file is None:
        raise ScaffoldRefused(f"train/{name}/config.schema.json not found")
    target = composed_schema_file(project, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(compose(load_schema(TRAINING_SCHEMA), load_task_schema(task.schema_file)),
                                 indent=2) + "\n", encoding="utf-8")
    return target


def scaffold(project: Path, name: str) -> list[Path]:
    """Write the new task's files; return them. Refuses (writing nothing) if any of them exists."""
    check_name(name)
    targets = {template: project / Template(target).substitute(name=name) for template, target in FILES.items()}
    taken = [path for path in (*targets.values(), composed_schema_file(project, name)) if path.exists()]
    if taken:
        raise ScaffoldRefused("not overwriting " + ", ".join(str(path.relative_to(project)) for path in taken))
    for template, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(name=name),
                          encoding="utf-8")
    return [*targets.values(), write_composed_schema(project, name)]
