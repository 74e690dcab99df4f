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
from launcher.config.validation import JOB_SCHEMA, TRAINING_SCHEMA, load_schema
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
    """Write the new task's files; return them. Refuses (writing nothing) if any of them exists. The job
    config's editor hint (`$schema=../schemas/job.schema.json`) gets its file too, where the project has none
    (a project using an installed launcher)."""
    check_name(name)
    targets = {template: project / Template(target).substitute(name=name) for template, target in FILES.items()}
    taken = [path for path in (*targets.values(), composed_schema_file(project, name)) if path.exists()]
    if taken:
        raise ScaffoldRefused("not overwriting " + ", ".join(str(path.relative_to(project)) for path in taken))
    for template, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(name=name),
                          encoding="utf-8")
    written = [*targets.values(), write_composed_schema(project, name)]
    job_schema = project / "schemas" / JOB_SCHEMA
    if not job_schema.exists():
        job_schema.write_text(json.dumps(load_schema(JOB_SCHEMA), indent=2) + "\n", encoding="utf-8")
        written.append(job_schema)
    return written


def next_step(project: Path, name: str) -> str:
    """How to run the new task from here: `make run` where this project's Makefile has it, else smlaunch."""
    makefile = project / "Makefile"
    has_make = makefile.is_file() and "\nrun:" in "\n" + makefile.read_text(encoding="utf-8", errors="replace")
    command = f"make run CONFIG=configs/{name}.yaml" if has_make else f"smlaunch run configs/{name}.yaml"
    return f"run it: {command}   (its own tests: pytest train/{name})"
