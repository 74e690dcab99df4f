"""The located YAML loader: positions, duplicate keys, alias bombs, and each kind of unreadable file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from launcher.config.yaml_source import Location, load_yaml_mapping
from launcher.core.errors import ConfigError


def load_error(tmp_path: Path, content: bytes | str) -> str:
    path = tmp_path / "x.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as caught:
        load_yaml_mapping(path, "x.yaml")
    return str(caught.value)


def test_values_and_keys_are_located(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 1\n  c: [x, y]\n")
    document = load_yaml_mapping(path, "x.yaml")
    assert document.data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert document.values[("a", "b")] == Location("x.yaml", 2, 6)
    assert document.keys[("a", "c")] == Location("x.yaml", 3, 3)
    assert document.values[("a", "c", 1)] == Location("x.yaml", 3, 10)
    assert document.locate(("a", "b", "missing")) == Location("x.yaml", 2, 6)


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    message = load_error(tmp_path, "a: 1\nb: 2\na: 3\n")
    assert "x.yaml:3:1: a: duplicate key (first defined at line 1)" in message


def test_merge_keys_work_and_may_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("base: &b {lr: 1, epochs: 2}\nrun:\n  <<: *b\n  lr: 5\n")
    assert load_yaml_mapping(path).data["run"] == {"lr": 5, "epochs": 2}


def test_billion_laughs_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.perf_counter()
    message = load_error(tmp_path, "\n".join(lines) + "\n")
    assert time.perf_counter() - started < 5  # generous bound; the bench script measures the real figure
    assert "alias bomb" in message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert "refers to itself" in load_error(tmp_path, "a: &x\n  b: *x\n")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "file is empty"),
        ("# only a comment\n", "file is empty"),
        ("- a\n- b\n", "top level is a list"),
        ("42\n", "top level is a single value"),
        (b"a: 1\nb: \xff\xfe\n", "x.yaml:2:1: file is not UTF-8"),
        ("a: [1, 2\n", "invalid YAML"),
        ("a: !!python/object:os.system x\n", "invalid YAML"),
        ("a: 1\nb: \x1b\n", "x.yaml:2:1: invalid YAML: control character U+001B"),
    ],
)
def test_unreadable_files_get_their_own_message(tmp_path: Path, content: str | bytes, expected: str) -> None:
    assert expected in load_error(tmp_path, content)


def test_missing_file_and_size_cap(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml_mapping(tmp_path / "absent.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="configs are limited to"):
        load_yaml_mapping(big)
