"""Flatten a resolved config into MLflow params with dotted keys (`train.optimizer.lr`), the paths `--set` takes.

Stdlib only: the launcher logs params with it, and a container that creates its own run (a tuning trial) too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MLFLOW_PARAM_KEY_LIMIT = 250
MLFLOW_PARAM_VALUE_LIMIT = 6000


def param_value(value: Any) -> str:
    """Strings as they are; everything else as JSON (`true`, `0.001`, `[128, 64]`)."""
    return value if isinstance(value, str) else json.dumps(_plain(value), separators=(", ", ": "))


def flatten_paths(config: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every leaf (scalar or list) of nested mappings, by its key path, with its param value."""
    flat: dict[tuple[str, ...], str] = {}
    for key, value in config.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            flat.update(flatten_paths(value, path))
        else:
            flat[path] = param_value(value)
    return flat


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings become dotted keys; lists and scalars become one param each."""
    return {prefix + ".".join(path): value for path, value in flatten_paths(config).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value
