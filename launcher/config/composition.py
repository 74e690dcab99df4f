"""`extends: base.yaml`: build a config on top of another one, keeping every value's true location.

Mappings merge deeply; lists and scalars in the extending file replace the base's. Chains are followed
(relative to each file), cycles are reported with the whole loop. The merged document remembers, for each
value, the file it came from, so errors and relative paths point at the right file.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from launcher.config.yaml_source import ConfigPath, Location, YamlDocument, load_yaml_mapping, problem
from launcher.core.errors import ConfigError, ConfigProblem

EXTENDS_KEY = "extends"


def load_composed(path: Path, display: str | None = None) -> tuple[YamlDocument, tuple[Path, ...]]:
    """Load `path` and the chain it extends; return the merged document and the files, base first."""
    return _load_chain(path, display or os.path.normpath(path), ())


def _load_chain(path: Path, display: str, chain: tuple[Path, ...]) -> tuple[YamlDocument, tuple[Path, ...]]:
    document = load_yaml_mapping(path, display)
    reference = document.data.get(EXTENDS_KEY)
    if reference is None:
        return document, (path,)
    where = document.locate((EXTENDS_KEY,))
    if not isinstance(reference, str) or not reference:
        raise ConfigError([problem(where, (EXTENDS_KEY,), "must be the path of another config file")])
    base_path = path.parent / reference
    here = path.resolve()
    if base_path.resolve() in (*chain, here):
        loop = " → ".join(os.path.relpath(p) for p in (*chain, here, base_path.resolve()))
        raise ConfigError([problem(where, (EXTENDS_KEY,), f"extends cycle: {loop}")])
    base_display = os.path.normpath(base_path)
    if not base_path.is_file():
        raise ConfigError([problem(where, (EXTENDS_KEY,), f"base config {base_display} not found")])
    base, files = _load_chain(base_path, base_display, (*chain, here))
    return merge_documents(base, document), (*files, path)


def merge_documents(base: YamlDocument, child: YamlDocument) -> YamlDocument:
    """`child` on top of `base` (minus the `extends` key), with locations from whichever file won."""
    child_data = {key: value for key, value in child.data.items() if key != EXTENDS_KEY}
    replaced = _leaf_paths(child_data, ())
    merged = YamlDocument(path=child.path, data=deep_merge(base.data, child_data),
                          top_keys={**base.top_keys, **child.top_keys})
    for table, base_table, child_table in ((merged.values, base.values, child.values),
                                           (merged.keys, base.keys, child.keys)):
        table.update({p: loc for p, loc in base_table.items() if not _under_any(p, replaced)})
        table.update({p: loc for p, loc in child_table.items() if p[:1] != (EXTENDS_KEY,)})
    return merged


def foreign_files(document: YamlDocument, known: Collection[str], kind: str) -> list[ConfigProblem]:
    """One problem for each file read into `document` that is a mapping of none of the keys a `kind` config has
    (`extends: /etc/shadow`, a training config that links to some other file): it names the file and nothing of
    its content, which unknown-key errors would otherwise print line by line."""
    found = []
    for shown, keys in document.top_keys.items():
        if keys and not set(keys) & {*known, EXTENDS_KEY}:
            found.append(problem(Location(shown), (), f"not a {kind} config: none of its {len(keys)} top-level keys "
                                 f"is one of a {kind} config's (is this the right file?); its content is not shown"))
    return found


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Mappings merged key by key; anything else in `top` replaces what `base` had."""
    result = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _leaf_paths(data: dict[str, Any], prefix: ConfigPath) -> set[ConfigPath]:
    paths: set[ConfigPath] = set()
    for key, value in data.items():
        path = (*prefix, key)
        paths |= _leaf_paths(value, path) if isinstance(value, dict) else {path}
    return paths


def _under_any(path: ConfigPath, roots: set[ConfigPath]) -> bool:
    return any(path[:length] in roots for length in range(1, len(path) + 1))
