"""Will the task's imports be there in the image? A package the image lacks fails the job only after the instance
has started, with a ModuleNotFoundError; here it is named before anything is created.

The task's package is read (its modules' top-level imports, with `ast`: nothing is imported), the standard
library and the shipped code are set aside, and each remaining name is looked up among the distributions the
image installs: docker/requirements.txt and what those require, as this checkout's environment resolves them
(the image is built from the same lock; image_deps checks it is). A name this machine does not know either is
said to be undecided, not refused.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from launcher.config.spec import LaunchSpec
from launcher.core.cache import keep, recall
from launcher.core.errors import LauncherError
from launcher.preflight.image_deps import checkout_deps_sha256
from launcher.preflight.report import Caveat
from launcher.tracking.provenance import LOCK_FILE

IMAGE_REQUIREMENTS = LOCK_FILE.parent / "docker" / "requirements.txt"
IMPORT_PROVIDERS = "import-providers"  # in the user's cache
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def task_imports(module_file: Path) -> set[str]:
    """Top-level names the task's package imports (absolute imports of every module beside the task's)."""
    found: set[str] = set()
    for path in sorted(module_file.parent.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


@cache
def image_distributions() -> frozenset[str]:
    """The distributions the image installs: docker/requirements.txt and, transitively, what they require."""
    wanted = [match[1] for line in IMAGE_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
              if (match := REQUIREMENT_NAME.match(line.split("#", 1)[0]))]
    seen: set[str] = set()
    while wanted:
        name = _normal(wanted.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        wanted += [match[1] for requirement in requires if "extra ==" not in requirement
                   and (match := REQUIREMENT_NAME.match(requirement))]
    return frozenset(seen)


def _providers() -> dict[str, list[str]]:
    """`metadata.packages_distributions()` (import name → distributions), which reads every installed
    distribution's file list (≈0.7 s), kept in the user's cache until a directory of the import path changes
    (installing or removing a distribution changes its directory)."""
    stamp = json.dumps([(entry, os.stat(entry).st_mtime_ns) for entry in sys.path if os.path.isdir(entry)])
    kept = recall(IMPORT_PROVIDERS, stamp)
    if kept is not None:
        with contextlib.suppress(ValueError):
            return dict(json.loads(kept))
    providers = {name: list(found) for name, found in metadata.packages_distributions().items()}
    keep(IMPORT_PROVIDERS, stamp, value=json.dumps(providers))
    return providers


def check_task_imports(spec: LaunchSpec) -> str:
    module = spec.task.module_file if spec.task else None
    if module is None:
        return "no task module to read"
    if checkout_deps_sha256() is None or not IMAGE_REQUIREMENTS.is_file():
        raise Caveat("no docker/requirements.txt here (an installed launcher): the task's imports are not compared "
                     "with the image")
    shipped = {directory.name for directory in spec.code_dirs} | {"train"}
    names = sorted(task_imports(module) - set(sys.stdlib_module_names) - shipped - {"__future__"})
    providers = _providers()
    image = image_distributions()
    missing, unknown = [], []
    for name in names:
        distributions = {_normal(found) for found in providers.get(name, [])}
        if not distributions:
            unknown.append(name)
        elif not distributions & image:
            missing.append(f"{name} ({', '.join(sorted(distributions))})")
    if missing:
        raise LauncherError(f"the task imports {', '.join(missing)}, which the image does not install: add it to "
                            "docker/requirements.txt and rebuild the image (make push / make build)")
    if unknown:
        raise Caveat(f"the task imports {', '.join(unknown)}, unknown to this environment too: check the image "
                     "has it")
    return f"the image installs all {len(names)} packages the task imports"
