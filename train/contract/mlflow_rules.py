"""What MLflow accepts: metric, param and tag names, value lengths, and how many items fit one batch.

One owner of MLflow's rules on both sides: the launcher checks params and tags before a run exists (and writes
a run straight into a local sqlite store only within them); the job drops a metric whose name MLflow refuses,
instead of letting it block every later point. The numbers and the name rule are MLflow's own
(`mlflow.utils.validation`); tests/test_mlflow_rules.py holds them against the installed MLflow, so an upgrade
that changes them fails a test, not a user's run. Stdlib only.
"""

from __future__ import annotations

import posixpath
import re

MAX_KEY_LENGTH = 250  # MAX_ENTITY_KEY_LENGTH: metric, param and tag names
MAX_PARAM_VALUE_LENGTH = 6000  # MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE_LENGTH = 8000  # MAX_TAG_VAL_LENGTH
MAX_PARAMS_TAGS_PER_BATCH = 100  # log_batch: params, and tags, per call
MAX_METRICS_PER_BATCH = 1000  # log_batch: metrics per call
RUN_NAME_COLUMN_LENGTH = 250  # the SQL stores' runs.name column
NAME_CHARACTERS = re.compile(r"^[/\w.\- :]*$")  # validate_param_and_metric_name (POSIX)


def name_problem(name: object) -> str | None:
    """Why MLflow refuses `name` as a metric, param or tag name, or None when it accepts it."""
    if not isinstance(name, str):
        return f"a name must be a string, not {type(name).__name__}"
    if not NAME_CHARACTERS.match(name):
        return "names may only hold letters, digits, '_', '-', '.', ' ', ':' and '/'"
    normalized = posixpath.normpath(name)
    if normalized != name or normalized == "." or normalized.startswith(("..", "/")):
        return f"MLflow treats names as paths and this one would resolve to {normalized!r} (no empty parts, " \
               "no leading or trailing '/', no '.' or '..')"
    if len(name) > MAX_KEY_LENGTH:
        return f"names are at most {MAX_KEY_LENGTH} characters (this one has {len(name)})"
    return None


def valid_name(name: object) -> bool:
    return name_problem(name) is None


def param_fits(value: str) -> bool:
    """MLflow stores this param value unchanged (longer ones it truncates or refuses)."""
    return len(value) <= MAX_PARAM_VALUE_LENGTH


def tag_fits(value: str) -> bool:
    return len(value) <= MAX_TAG_VALUE_LENGTH


def batches(items: list[object], size: int) -> list[list[object]]:
    """`items` cut into lists of at most `size` (one log_batch call each)."""
    return [items[start : start + size] for start in range(0, len(items), size)]
