"""PyYAML's safe loader, reading scalars by YAML 1.2's core schema instead of YAML 1.1's.

PyYAML resolves plain scalars by YAML 1.1: `1e-05` (no dot) is a string, `yes`/`no`/`on`/`off` are booleans,
`010` is octal and `1_000` an integer. Configs are written the way people write numbers (YACS and detectron2
configs, papers: `lr: 1e-05`), so every config and `--set` value is read by YAML 1.2's core schema, as most
YAML tools now do: numbers are `[-+]?(.5|5|5.|5.5)(e[-+]?5)?` (plus `.inf`, `.nan`, `0o17`, `0x1F`),
booleans only `true`/`false` (any case form), null `null`/`~`/empty; `yes`, `on`, `1_000` and dates are
strings, `010` is ten. A boolean field given `yes`/`no`/`on`/`off` is read as the boolean it meant, with a
warning (config.validation).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"  # not in the core schema: `2024-01-31` stays a string
BOOLEAN = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
INTEGER = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                   r"|\.(?:nan|NaN|NAN))$")
YAML11_BOOLEANS = {"yes": True, "no": False, "on": True, "off": False, "y": True, "n": False}


SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: ≈10x faster


class Yaml12Loader(SafeBase):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml's parser where PyYAML has it) with the YAML 1.2 core schema's booleans,
    integers and floats."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node)).lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        if text == ".nan":
            return math.nan
        return float(text)


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (BOOL_TAG, INT_TAG, FLOAT_TAG, TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(BOOL_TAG, BOOLEAN, list("tTfF"))
Yaml12Loader.add_implicit_resolver(INT_TAG, INTEGER, list("-+0123456789"))  # before floats: `5` is an int
Yaml12Loader.add_implicit_resolver(FLOAT_TAG, FLOAT, list("-+0123456789."))
Yaml12Loader.add_constructor(INT_TAG, Yaml12Loader.construct_yaml_int)
Yaml12Loader.add_constructor(FLOAT_TAG, Yaml12Loader.construct_yaml_float)


def load(text: str) -> Any:
    """One YAML document, read by the YAML 1.2 core schema (no locations: yaml_source keeps those)."""
    return yaml.load(text, Loader=Yaml12Loader)


class BothReadersDumper(yaml.SafeDumper):
    """Writes a string in quotes wherever YAML 1.1 or 1.2 would read the plain text as something else (`yes`,
    `1e-05`, `010`): the configs the launcher writes read the same by the launcher (1.2) and by the job's plain
    `yaml.safe_load` (1.1)."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        node = super().represent_str(data)
        if node.style is None and (_resolves(Yaml12Loader, data) or _resolves(yaml.SafeLoader, data)):
            node.style = "'"
        return node


BothReadersDumper.add_representer(str, BothReadersDumper.represent_str)


_RESOLVERS: dict[str, Any] = {}


def _resolves(loader: type[yaml.SafeLoader], text: str) -> bool:
    """Whether `loader` reads the plain scalar `text` as anything but a string."""
    resolver = _RESOLVERS.get(loader.__name__) or _RESOLVERS.setdefault(loader.__name__, loader(""))
    return bool(resolver.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str")


def dump(data: Any) -> str:
    """YAML text of `data` (keys in their order) that both YAML readers read back as `data`."""
    return str(yaml.dump(data, Dumper=BothReadersDumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True))
