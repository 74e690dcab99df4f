"""Config values as MLflow params and back: one codec for both directions, and the dotted paths `--set` takes.

A value becomes its param text as written in a config: strings as they are, everything else as JSON (`true`,
`0.001`, `1e-05`, `[128, 64]`); `read_param` turns such a text back into the value (JSON, else the string), so
what is written is what is read (a sweep's resume, a tuning trial's values). Nested mappings flatten into
dotted keys (`train.optimizer.lr`), the same paths as `--set` and error messages. A value longer than MLflow
keeps is recorded as a stand-in that says so; the whole value stays in the resolved config. Stdlib only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from train.contract.mlflow_rules import MAX_PARAM_VALUE_LENGTH

RESOLVED_CONFIG_ARTIFACT = "config/resolved.yaml"  # where the run keeps every value whole


def param_value(value: Any) -> str:
    """Strings as they are; everything else as JSON (`true`, `0.001`, `[128, 64]`)."""
    return value if isinstance(value, str) else json.dumps(_plain(value), separators=(", ", ": "))


def read_param(text: str) -> Any:
    """The value a param text stands for: JSON where it parses (numbers, booleans, lists, null), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def recorded(text: str) -> str:
    """A param text MLflow keeps whole, or a stand-in that says where the whole value is."""
    if len(text) <= MAX_PARAM_VALUE_LENGTH:
        return text
    return f"<{len(text)} characters, longer than an MLflow param holds: see {RESOLVED_CONFIG_ARTIFACT}>"


def flatten_paths(config: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every leaf (scalar or list) of nested mappings, by its key path, with its param text."""
    flat: dict[tuple[str, ...], str] = {}
    for key, value in config.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            flat.update(flatten_paths(value, path))
        else:
            flat[path] = param_value(value)
    return flat


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings become dotted keys; lists and scalars become one param text each."""
    return {prefix + ".".join(path): value for path, value in flatten_paths(config).items()}


def as_params(config: Mapping[str, Any]) -> dict[str, str]:
    """The run's params for a resolved config: every leaf, values too long for MLflow as stand-ins."""
    return {key: recorded(value) for key, value in flatten(config).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value
