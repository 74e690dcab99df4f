"""docs/configuration.md is generated from the schemas and must match them; the example configs name their schema."""

from __future__ import annotations

import json

from launcher.config.reference import composed_task_schemas, render_markdown
from tests.conftest import REPO


def test_configuration_reference_is_up_to_date() -> None:
    committed = (REPO / "docs/configuration.md").read_text(encoding="utf-8")
    assert committed == render_markdown(REPO / "train"), "docs/configuration.md is stale: run `make docs`"
    assert "## Training config: task `digits`" in committed  # every task has its section


def test_every_task_has_its_composed_schema_for_editors() -> None:
    generated = composed_task_schemas(REPO / "train")
    assert "digits" in generated
    for name, text in generated.items():
        assert (REPO / "schemas/tasks" / f"{name}.schema.json").read_text() == text, f"{name}: run `make docs`"


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

    sweep = json.loads((REPO / "schemas/sweep.schema.json").read_text())
    assert walk(sweep["$defs"]["parameter"], "parameters.<path>.") == []
    schemas = [REPO / "schemas/job.schema.json", REPO / "schemas/training.schema.json",
               REPO / "schemas/sweep.schema.json",
               *sorted((REPO / "train").glob("*/config.schema.json"))]
    for path in schemas:
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert walk(schema, "") == [], path


def test_example_configs_carry_the_editor_schema_line() -> None:
    for config in sorted((REPO / "configs").rglob("*.yaml")):
        first = config.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), config
        schema = (config.parent / first.split("=", 1)[1]).resolve()
        assert schema.is_file(), config


def test_every_createtrainingjob_member_is_offered_or_says_why_not() -> None:
    """Walks botocore's CreateTrainingJob shape: each member is set by the config or listed with the reason it
    is not, and docs/configuration.md says so; an upgrade that adds a member fails here until it is reviewed."""
    from launcher.cloud.aws import service_model
    from launcher.config.reference import NOT_OFFERED, OFFERED

    members = set(service_model("sagemaker").operation_model("CreateTrainingJob").input_shape.members)
    assert set(OFFERED) | set(NOT_OFFERED) == members
    assert not set(OFFERED) & set(NOT_OFFERED)
    reference = (REPO / "docs/configuration.md").read_text(encoding="utf-8")
    assert "not reviewed yet" not in reference
    for member in members:
        assert f"| `{member}` |" in reference, member
