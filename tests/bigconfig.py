"""A detectron2-sized training config and the task that reads it: about 1,000 leaves in nested sections (four and
more levels deep), lists of numbers and of strings, long strings, `1e-05` floats, booleans and nulls, with a
task schema that describes every leaf and a task that reads deep keys and checks their types."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DEEP_LR = ("solver", "schedule", "stage_4", "block_2", "base_lr")  # a key five levels down, swept in the tests
LONG_TEXT = "a long free-text note; " * 400  # 9,200 characters: longer than an MLflow param holds
TASK = '''
"""A task with a 1,000-key config: reads deep keys and records what it read, with their types."""

import json


def run(ctx):
    config = ctx.config
    lr = config["solver"]["schedule"]["stage_4"]["block_2"]["base_lr"]
    flags = config["model"]["backbone"]["stage_0"]["block_0"]["use_bias"]
    sizes = config["model"]["backbone"]["stage_1"]["block_1"]["sizes"]
    note = config["notes"]["long"]
    nothing = config["dataset"]["section_0"]["group_0"]["optional"]
    assert isinstance(lr, float), type(lr)
    assert isinstance(flags, bool) and isinstance(sizes, list) and isinstance(note, str) and nothing is None
    read = {"lr": lr, "use_bias": flags, "sizes": sizes, "note_length": len(note), "leaves": count(config)}
    (ctx.paths.output_data_dir / "read.json").write_text(json.dumps(read))
    for step in range(1, 4):
        ctx.tracker.log_metrics({"loss": lr * 1e5 / step, "leaves": float(read["leaves"])}, step=step)


def count(node):
    return sum(count(value) for value in node.values()) if isinstance(node, dict) else 1
'''


def _leaf(rng: random.Random, index: int) -> tuple[Any, dict[str, Any]]:
    """A value and its schema, cycling through the kinds real configs hold."""
    kind = index % 7
    if kind == 0:
        return 1e-05 * (index % 5 + 1), {"type": "number", "exclusiveMinimum": 0}
    if kind == 1:
        return index % 2 == 0, {"type": "boolean"}
    if kind == 2:
        return [rng.randint(1, 512) for _ in range(4)], {"type": "array", "items": {"type": "integer"}}
    if kind == 3:
        return f"name_{index}", {"type": "string"}
    if kind == 4:
        return None, {"type": ["string", "null"]}
    if kind == 5:
        return ["res2", "res3", "res4"], {"type": "array", "items": {"type": "string"}}
    return rng.randint(0, 10_000), {"type": "integer", "minimum": 0}


def build(leaves: int = 1000, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the config's task fields, their schema): sections → stages → blocks → leaves, `leaves` in all."""
    rng = random.Random(seed)
    config: dict[str, Any] = {}
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    sections = ["model", "solver", "dataset", "input", "test", "augment"]
    index = 0
    while index < leaves - 8:
        section = sections[index % len(sections)]
        stage, block = f"stage_{(index // 36) % 6}", f"block_{(index // 6) % 6}"
        inner = {"model": "backbone", "solver": "schedule"}.get(section, f"section_{(index // 216) % 3}")
        value, leaf_schema = _leaf(rng, index)
        path = (section, inner, stage, block, f"key_{index}")
        _put(config, schema, path, value, leaf_schema)
        index += 1
    fixed = [(DEEP_LR, 1e-05, {"type": "number", "exclusiveMinimum": 0, "default": 1e-05}),
             (("model", "backbone", "stage_0", "block_0", "use_bias"), True, {"type": "boolean"}),
             (("model", "backbone", "stage_1", "block_1", "sizes"), [64, 128],
              {"type": "array", "items": {"type": "integer"}}),
             (("notes", "long"), LONG_TEXT, {"type": "string"}),
             (("dataset", "section_0", "group_0", "optional"), None, {"type": ["string", "null"]}),
             (("input", "section_0", "stage_0", "block_0", "mean"), [103.53, 116.28, 123.675],
              {"type": "array", "items": {"type": "number"}}),
             (("test", "section_0", "stage_0", "block_0", "eval_period"), 5000, {"type": "integer"}),
             (("solver", "schedule", "warmup_factor"), 0.001, {"type": "number"})]
    for path, value, leaf_schema in fixed:
        _put(config, schema, path, value, leaf_schema)
    return config, schema


def _put(config: dict[str, Any], schema: dict[str, Any], path: tuple[str, ...], value: Any,
         leaf_schema: dict[str, Any]) -> None:
    node, node_schema = config, schema
    for part in path[:-1]:
        node = node.setdefault(part, {})
        node_schema = node_schema["properties"].setdefault(
            part, {"type": "object", "additionalProperties": False, "properties": {}})
    node[path[-1]] = value
    node_schema["properties"][path[-1]] = {"description": f"{'.'.join(path)}", **leaf_schema}


def write_task(root: Path, leaves: int = 1000, name: str = "big") -> dict[str, Any]:
    """train/NAME/ (task + schema), configs/train/NAME.yaml and configs/NAME.yaml under `root`; the config."""
    import yaml

    config, schema = build(leaves)
    task_dir = root / "train" / name
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / "__init__.py").write_text("")
    (task_dir / "task.py").write_text(TASK)
    (task_dir / "config.schema.json").write_text(json.dumps({"title": name, **schema}, indent=1))
    text = yaml.safe_dump({"task": f"train.{name}.task:run", **config}, sort_keys=False, width=10_000)
    text = text.replace("1.0e-05", "1e-05")  # written as people write it (YAML 1.2 reads it as a number)
    (root / "configs" / "train").mkdir(parents=True, exist_ok=True)
    (root / "configs" / "train" / f"{name}.yaml").write_text(text)
    job = (root / "configs" / "local.yaml").read_text().replace("train/digits.yaml", f"train/{name}.yaml")
    (root / "configs" / f"{name}.yaml").write_text(job)
    return config


def leaf_paths(config: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in config.items():
        found += leaf_paths(value, (*prefix, key)) if isinstance(value, dict) else [(*prefix, key)]
    return found
