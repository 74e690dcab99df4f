"""Load a YAML config safely and remember where each key and value stands in the file.

PyYAML's `safe_load` is safe but forgetful: it keeps the last of two duplicate keys without a word, expands
aliases without bound (the "billion laughs" file) and throws positions away. This module composes the node
graph with PyYAML's safe loader and builds plain Python data itself, so it can refuse duplicates, bound alias
expansion and record a `Location` for every path, which error messages then cite as `file:line:col`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from launcher.config.yaml12 import Yaml12Loader
from launcher.core.errors import ConfigError, ConfigProblem

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # values built after alias expansion; real configs have a few hundred

OVERRIDE_SOURCE = "--set "  # the source of values given on the command line
SEQUENCE_TAG = "tag:yaml.org,2002:seq"
MAPPING_TAG = "tag:yaml.org,2002:map"

ConfigPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file position, or a command-line override (`line` = its place on the line)."""

    source: str
    line: int = 0
    column: int = 0

    @property
    def is_override(self) -> bool:
        return self.source.startswith(OVERRIDE_SOURCE)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}" if self.line and not self.is_override else self.source

    @property
    def sort_key(self) -> tuple[str, int, int]:
        return (self.source, self.line, self.column)


@dataclass
class YamlDocument:
    """A loaded mapping plus the location of every value (`values`) and mapping key (`keys`)."""

    path: Path
    data: dict[str, Any]
    values: dict[ConfigPath, Location] = field(default_factory=dict)
    keys: dict[ConfigPath, Location] = field(default_factory=dict)
    top_keys: dict[str, list[str]] = field(default_factory=dict)  # each file read (as shown): its top-level keys

    def locate(self, config_path: ConfigPath, *, key: bool = False) -> Location:
        """The location of `config_path`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(config_path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Location(str(self.path)))


def format_path(config_path: ConfigPath) -> str:
    """Dotted field path with list indices in brackets: `channels.training.uri`, `model.sizes[1]`."""
    text = ""
    for part in config_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def problem(location: Location, config_path: ConfigPath, message: str) -> ConfigProblem:
    """Build a ConfigProblem that sorts by file position."""
    return ConfigProblem(location.sort_key, str(location), format_path(config_path), message)


def _fail(location: Location, message: str, config_path: ConfigPath = ()) -> ConfigError:
    return ConfigError([problem(location, config_path, message)])


def load_yaml_mapping(path: Path, display: str | None = None) -> YamlDocument:
    """Read `path` as a YAML mapping, or raise ConfigError saying precisely what is wrong with the file."""
    shown = display or str(path)
    here = Location(shown)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _fail(here, "file not found (check the path; relative paths start at the referring file)") from None
    except OSError as error:
        raise _fail(here, f"cannot read file: {error.strerror}") from None
    if path.is_dir():
        raise _fail(here, "is a directory, expected a YAML file")
    if size > MAX_FILE_BYTES:
        raise _fail(here, f"file is {size} bytes; configs are limited to {MAX_FILE_BYTES} bytes")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise _fail(Location(shown, line, 1), "file is not UTF-8 text (save it as UTF-8)") from None
    if not text.strip() or all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise _fail(here, "file is empty; expected a mapping of config keys")
    return _compose(text, path, shown)


def _compose_root(text: str, shown: str) -> yaml.Node | None:
    try:
        loader = Yaml12Loader(text)  # the reader rejects control characters already here
        try:
            node: yaml.Node | None = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        raise _invalid_yaml(error, shown) from None
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        message = f"invalid YAML: control character U+{error.character:04X} is not allowed"
        raise _fail(Location(shown, line, 1), message) from None
    except yaml.YAMLError as error:
        raise _fail(Location(shown), f"invalid YAML: {error}") from None
    return node


def _build(root: yaml.Node, document: YamlDocument, shown: str) -> Any:
    builder = _Builder(Yaml12Loader(""), document, shown)
    try:
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as error:  # e.g. an unsafe tag such as !!python/object
        raise _invalid_yaml(error, shown) from None
    if builder.problems:
        raise ConfigError(builder.problems)
    return data


def _compose(text: str, path: Path, shown: str) -> YamlDocument:
    root = _compose_root(text, shown)
    if root is None:
        raise _fail(Location(shown), "file is empty; expected a mapping of config keys")
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise _fail(_node_location(root, shown), f"top level is {kind}; expected a mapping of config keys")
    document = YamlDocument(path=path, data={})
    document.data = _build(root, document, shown)
    document.top_keys[shown] = list(document.data)
    return document


def parse_yaml_value(text: str, shown: str) -> Any:
    """One YAML value (a `--set` value) under the same rules as files: safe tags, bounded aliases, no duplicates.

    Text that is not valid YAML at all is taken as a plain string.
    """
    try:
        root = _compose_root(text, shown)
    except ConfigError:
        return text
    return None if root is None else _build(root, YamlDocument(path=Path(shown), data={}), shown)


def _invalid_yaml(error: yaml.MarkedYAMLError, shown: str) -> ConfigError:
    mark = error.problem_mark or error.context_mark
    where = Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown)
    return _fail(where, f"invalid YAML: {error.problem or error.context}")


def _node_location(node: yaml.Node, shown: str) -> Location:
    return Location(shown, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns composed nodes into dicts/lists/scalars, recording locations and bounding alias expansion."""

    def __init__(self, constructor: yaml.SafeLoader, document: YamlDocument, shown: str) -> None:
        self.constructor = constructor
        self.document = document
        self.shown = shown
        self.built = 0
        self.active: set[int] = set()
        self.problems: list[ConfigProblem] = []

    def build(self, node: yaml.Node, config_path: ConfigPath) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise _fail(
                _node_location(node, self.shown),
                f"more than {MAX_NODES} values after expanding aliases; refusing (an alias bomb?)",
            )
        if id(node) in self.active:
            raise _fail(_node_location(node, self.shown), "an alias refers to itself (recursive YAML)")
        self.document.values.setdefault(config_path, _node_location(node, self.shown))
        if isinstance(node, yaml.ScalarNode):
            return self.constructor.construct_object(node, deep=True)
        if node.tag not in (SEQUENCE_TAG, MAPPING_TAG):
            raise _fail(_node_location(node, self.shown), f"invalid YAML: unsupported tag {node.tag!r}")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*config_path, index)) for index, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._build_mapping(node, config_path)
        finally:
            self.active.discard(id(node))

    def _build_mapping(self, node: yaml.MappingNode, config_path: ConfigPath) -> dict[str, Any]:
        seen: dict[str, Location] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = str(self.constructor.construct_object(key_node))
                where = _node_location(key_node, self.shown)
                if key in seen:
                    self.problems.append(
                        problem(where, (*config_path, key), f"duplicate key (first defined at line {seen[key].line})")
                    )
                seen[key] = where
        self.constructor.flatten_mapping(node)  # applies YAML merge keys (<<: *base) in place
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(_node_location(key_node, self.shown), "keys must be plain strings", config_path)
            key = str(self.constructor.construct_object(key_node))
            self.document.keys.setdefault((*config_path, key), _node_location(key_node, self.shown))
            result[key] = self.build(value_node, (*config_path, key))
        return result
