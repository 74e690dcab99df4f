"""docs/configuration.md is generated from the schemas and must match them; the example configs name their schema."""

from __future__ import annotations

import json

from launcher.config.reference import render_markdown
from tests.conftest import REPO


def test_configuration_reference_is_up_to_date() -> None:
    committed = (REPO / "docs/configuration.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "docs/configuration.md is stale: run `make docs`"


def test_every_schema_property_has_a_description() -> None:
    def walk(schema: dict, path: str) -> list[str]:
        missing = []
        for name, sub in schema.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{path}{name}")
            missing += walk(sub, f"{path}{name}.")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            missing += walk(extra, f"{path}<name>.")
        return missing

    for name in ("job.schema.json", "training.schema.json"):
        schema = json.loads((REPO / "schemas" / name).read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert walk(schema, "") == [], name


def test_example_configs_carry_the_editor_schema_line() -> None:
    for config in sorted((REPO / "configs").rglob("*.yaml")):
        first = config.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), config
        schema = (config.parent / first.split("=", 1)[1]).resolve()
        assert schema.is_file(), config
