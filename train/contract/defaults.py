"""JSON Schema `default`s filled into a config: what the launcher applies before a job, and `run_locally` before
a task's own tests, so a task sees the same config either way. Stdlib only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def apply_defaults(data: Any, schema: Mapping[str, Any]) -> Any:
    """A copy of `data` with every missing property that has a schema `default` filled in, recursively
    (through `properties`, and `additionalProperties` when it is a schema)."""
    if not isinstance(data, Mapping):
        return data
    properties: Mapping[str, Any] = schema.get("properties", {})
    result = dict(data)
    for name, subschema in properties.items():
        if name not in result and "default" in subschema:
            result[name] = json.loads(json.dumps(subschema["default"]))
        if name in result:
            result[name] = apply_defaults(result[name], subschema)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        for name in result:
            if name not in properties:
                result[name] = apply_defaults(result[name], extra)
    return result
