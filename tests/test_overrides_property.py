"""Property: any `--set` path and value gives either a valid spec or a clean ConfigError, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launcher.config.loader import load_launch_spec
from launcher.config.spec import LaunchSpec
from launcher.config.validation import JOB_SCHEMA, TRAINING_SCHEMA, load_schema
from launcher.core.errors import ConfigError
from tests.conftest import REPO


def schema_paths(schema: dict, prefix: str) -> list[str]:
    paths = []
    for name, sub in schema.get("properties", {}).items():
        paths.append(prefix + name)
        paths += schema_paths(sub, f"{prefix}{name}.")
    return paths


KNOWN = schema_paths(load_schema(JOB_SCHEMA), "") + schema_paths(load_schema(TRAINING_SCHEMA), "train.")
segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789-", min_size=1, max_size=12)
paths = st.one_of(
    st.sampled_from(KNOWN),
    st.builds(lambda known, extra: f"{known}.{extra}", st.sampled_from(KNOWN), segment),
    st.lists(segment, min_size=1, max_size=4).map(".".join),
)
values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["true", "null", "~", "[]", "{}", "[1, 2]", "{a: 1}", "'quoted'", "&a [*a]", "!!binary eA==",
                     "2026-11-28", "0x1F", "1e400", "[", "}", ": x", "local", "sagemaker", "s3://bucket/x"]),
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prop")
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "train", root / "train", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "data" / "digits").mkdir(parents=True)
    return root / "configs" / "local.yaml"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.lists(st.tuples(paths, values), min_size=1, max_size=4))
def test_any_override_gives_a_spec_or_a_clean_error(config: Path, overrides: list[tuple[str, str]]) -> None:
    texts = [f"{path}={value}" for path, value in overrides]
    try:
        spec = load_launch_spec(config, texts)
    except ConfigError as error:
        assert error.problems, texts
        for found in error.problems:
            assert str(found).strip()
            assert found.where.startswith(("--set ", str(config.parent))) or found.where.startswith("configs"), found
    else:
        assert isinstance(spec, LaunchSpec)
