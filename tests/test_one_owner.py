"""One owner per concern: each rule, door and format is defined once, checked against the library that owns it,
and nothing goes around a door."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from train.contract import mlflow_rules
from train.contract.params import param_value, read_param, recorded

REPO = Path(__file__).resolve().parent.parent
NAMES = ["loss", "val/loss", "train loss", "a:b", "a-b.c_d", "loss/", "/loss", "a/../b", "a//b", "./a", "..", ".",
         "", "a/./b", "acc%", "lr\u00e9", "x" * 250, "x" * 251, "ü/ß", "tab\tname", "a/b/"]


def test_mlflow_rules_are_the_installed_mlflows() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.dbmodels.models import SqlRun
    from mlflow.utils import validation

    assert mlflow_rules.MAX_KEY_LENGTH == validation.MAX_ENTITY_KEY_LENGTH
    assert mlflow_rules.MAX_PARAM_VALUE_LENGTH == validation.MAX_PARAM_VAL_LENGTH
    assert mlflow_rules.MAX_TAG_VALUE_LENGTH == validation.MAX_TAG_VAL_LENGTH
    assert mlflow_rules.MAX_PARAMS_TAGS_PER_BATCH == validation.MAX_PARAMS_TAGS_PER_BATCH
    assert mlflow_rules.MAX_METRICS_PER_BATCH == validation.MAX_METRICS_PER_BATCH
    assert SqlRun.name.type.length == mlflow_rules.RUN_NAME_COLUMN_LENGTH
    for name in NAMES:
        try:
            validation._validate_metric_name(name)
            validation._validate_length_limit("Metric name", validation.MAX_ENTITY_KEY_LENGTH, name)
            accepted = True
        except MlflowException:
            accepted = False
        assert mlflow_rules.valid_name(name) == accepted, name


@pytest.mark.parametrize("value", [1e-05, 0.001, 3, True, None, "adam", "1e-05", [128, 64], {"a": [1, 2.5]}, 1e300,
                                   "true", "[1, 2]"])
def test_the_params_codec_reads_back_what_it_wrote(value: object) -> None:
    text = param_value(value)
    if isinstance(value, str) and value in ("1e-05", "true", "[1, 2]"):
        assert read_param(text) != value  # a string that reads as a number: why a sweep matches listed values
    else:
        assert read_param(text) == value
    assert param_value(1e-05) == "1e-05" and read_param("1e-05") == 1e-05


def test_a_param_too_long_for_mlflow_is_a_stand_in_that_says_so() -> None:
    assert recorded("x" * 6000) == "x" * 6000
    stand_in = recorded("x" * 7342)
    assert len(stand_in) <= mlflow_rules.MAX_PARAM_VALUE_LENGTH and "7342 characters" in stand_in
    assert "config/resolved.yaml" in stand_in


def test_make_tables_is_a_no_op_on_a_fresh_checkout() -> None:
    """The API table is what the installed botocore, moto and SageMaker SDK say, byte for byte: an upgrade that
    changes a limit, an instance type or a GPU count fails here until `make tables` is run."""
    from launcher.config import sagemaker_api

    assert sagemaker_api.TABLE.read_text(encoding="utf-8") == sagemaker_api.render()
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^tables:.*\n\t\$\(BIN\)/python -m launcher\.config\.sagemaker_api$", makefile, re.M)


def _python_files(root: str) -> list[Path]:
    return sorted(path for path in (REPO / root).rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _calls(path: Path, pattern: str) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if re.search(pattern, line)]


def test_every_aws_call_goes_through_the_door() -> None:
    door = REPO / "launcher/cloud/aws.py"
    for path in _python_files("launcher"):
        if path == door:
            continue
        assert not {name for name in _imports(path) if name.split(".")[0] in ("boto3", "botocore")}, path
        assert not _calls(path, r"\.client\(\s*[\"']"), path  # no client made, none taken from the door
    assert {name for path in _python_files("train") if path.name != "secrets.py"
            for name in _imports(path) if name.split(".")[0] == "boto3"} == set()  # the job's one: its secrets


def test_every_mlflow_call_goes_through_a_door() -> None:
    doors = {REPO / "launcher/tracking/client.py", REPO / "train/runtime/tracking.py"}
    serializes = REPO / "train/runtime/models.py"  # saves models in MLflow's format, to local files only
    for path in [*_python_files("launcher"), *_python_files("train")]:
        if path in doors:
            continue
        assert not _calls(path, r"MlflowClient\(|set_tracking_uri\(|\bModel\.log\(|http_request\("), path
        if path != serializes:
            assert not {name for name in _imports(path) if name.split(".")[0] == "mlflow"}, path
    for path in _python_files("launcher"):  # no HTTP of its own to the tracker
        assert not {name for name in _imports(path) if name.split(".")[0] in ("urllib.request", "requests", "http")}, \
            path
        assert "urllib.request" not in _imports(path), path


def test_the_record_does_not_talk_to_aws_and_the_launcher_imports_only_the_contract() -> None:
    for path in _python_files("launcher/tracking"):
        assert not {name for name in _imports(path) if name.startswith("launcher.cloud")}, path
    for path in _python_files("launcher"):
        outside = {name for name in _imports(path) if name.split(".")[0] == "train" and name != "train.contract"
                   and not name.startswith("train.contract.")}
        assert not outside, (path, outside)
    for path in _python_files("train/contract"):
        allowed = set(sys.stdlib_module_names) | {"train"}
        assert {name.split(".")[0] for name in _imports(path)} <= allowed | {"__future__"}, path


def test_the_architecture_names_every_module() -> None:
    text = (REPO / "docs/architecture.md").read_text(encoding="utf-8")
    missing = []
    for root in ("launcher", "train"):
        for path in _python_files(root):
            if path.name in ("__init__.py", "__main__.py"):
                continue
            relative = path.relative_to(REPO / root).with_suffix("").as_posix()
            if f"{relative}" not in text and f"`{path.stem}`" not in text:
                missing.append(f"{root}/{relative}")
    assert missing == []
    assert len(text.split()) <= 1500


def _leaving_the_repository(doc: Path) -> list[str]:
    """What a document points at outside this repository: a link to a file that is not in it, or any `../` path
    in its text (examples included) that climbs out of it."""
    text = doc.read_text(encoding="utf-8")
    links = [link for link in re.findall(r"\]\(([\w./-]+)\)", text) if not (doc.parent / link).exists()]
    climbing = [path for path in re.findall(r"(?<![\w.])(\.\./[^\s)`'\"]*)", text)
                if not (doc.parent / path).resolve().is_relative_to(REPO)]
    return links + climbing


def test_every_document_names_only_what_is_in_this_repository() -> None:
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert {doc.name: _leaving_the_repository(doc) for doc in docs} == {doc.name: [] for doc in docs}


def test_readme_is_short_and_points_inside_the_repository() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.split()) <= 1500
    assert "make run" in text and "make test" in text


def test_the_secret_reference_format_has_one_parser() -> None:
    from train.contract.secret_refs import BadReference, parse

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow-AbCdEf"
    assert parse(f"{arn}#password").region == "us-east-1" and parse(f"{arn}#password").field == "password"
    assert parse("team/mlflow").region is None and parse("team/mlflow").field is None
    for bad in ("arn:aws:s3:::bucket", "name#", "has space", "x" * 300):
        with pytest.raises(BadReference):
            parse(bad)
    hand_parsers = [path for path in [*_python_files("launcher"), *_python_files("train")]
                    if path.name != "secret_refs.py" and _calls(path, r"partition\(\"#\"\)")]
    assert hand_parsers == []
