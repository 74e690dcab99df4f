"""The search space: parameters with listed values or ranges, and the trials grid and random search draw.

A trial is a set of `--set` overrides; its values are written as they would be in a config and as the run's
params record them (`0.001`, `[128, 64]`, `adam`: train.contract.params), so a trial is reproducible by hand with
`smlaunch run CONFIG --set ...` and a resumed sweep reads back exactly the values it ran.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from train.contract.params import param_value, read_param

SIGNIFICANT_DIGITS = 6  # drawn floats are rounded to this many digits: readable params, same values on rerun


@dataclass(frozen=True)
class Parameter:
    """One swept config path: its listed `values`, or a `low`..`high` range (linear or log, float or int)."""

    path: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    kind: str = "float"
    steps: int | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None and self.high is not None

    def describe(self) -> str:
        """How the parent run's params show it: `[32, 64]` or `log float 0.0001..0.1`."""
        if not self.is_range:
            return json.dumps(list(self.values))
        steps = f" in {self.steps} steps" if self.steps else ""
        return f"{self.scale} {self.kind} {self.low:g}..{self.high:g}{steps}"

    def grid_points(self) -> list[Any]:
        """The values a grid tries: the listed ones, or `steps` points evenly spaced on the range's scale."""
        if not self.is_range:
            return list(self.values)
        assert self.low is not None and self.high is not None and self.steps
        low, high = (math.log(self.low), math.log(self.high)) if self.scale == "log" else (self.low, self.high)
        points = [low + (high - low) * i / (self.steps - 1) for i in range(self.steps)]
        values = [self.cast(math.exp(p) if self.scale == "log" else p) for p in points]
        return list(dict.fromkeys(values))  # int ranges can round two points to one

    def extremes(self) -> list[Any]:
        """The values that bound what a trial can get: every listed value, or both ends of the range."""
        return list(self.values) if not self.is_range else [self.cast(self.low), self.cast(self.high)]

    def draw(self, rng: random.Random) -> Any:
        """One random value: a listed one, or uniform on the range's (linear or log) scale."""
        if not self.is_range:
            return self.values[rng.randrange(len(self.values))]
        assert self.low is not None and self.high is not None
        if self.scale == "log":
            return self.cast(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return self.cast(rng.uniform(self.low, self.high))

    def value_of(self, text: str) -> Any:
        """The value a param text records: a listed value by its own text, else what the codec reads."""
        return next((value for value in self.values if param_value(value) == text), read_param(text))

    def cast(self, value: float | None) -> Any:
        """A number as this parameter holds it: a whole number (int), or rounded to 6 significant digits."""
        assert value is not None
        if self.kind == "int":
            return round(value)
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True)
class Trial:
    """One point of the search: its number (from 1) and the value of each swept path."""

    number: int
    values: Mapping[str, Any] = field(default_factory=dict)

    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{path}={param_value(value)}" for path, value in self.values.items())

    def as_dict(self) -> dict[str, Any]:
        return {"trial": self.number, "values": dict(self.values)}


def grid(parameters: tuple[Parameter, ...], limit: int | None = None) -> list[Trial]:
    """Every combination, the first parameter varying slowest; at most `limit` of them."""
    combinations = itertools.product(*(parameter.grid_points() for parameter in parameters))
    return [Trial(number, dict(zip((p.path for p in parameters), values, strict=True)))
            for number, values in enumerate(itertools.islice(combinations, limit), start=1)]


def grid_size(parameters: tuple[Parameter, ...]) -> int:
    return math.prod(len(parameter.grid_points()) for parameter in parameters)


def random_trials(parameters: tuple[Parameter, ...], count: int, seed: int) -> list[Trial]:
    """`count` independent draws; the same seed draws the same trials."""
    rng = random.Random(seed)
    return [Trial(number, {p.path: p.draw(rng) for p in parameters}) for number in range(1, count + 1)]


def probes(parameters: tuple[Parameter, ...]) -> list[Trial]:
    """Trials that together touch every bound of the space (each value or range end, the rest at their first):
    what validates a search whose points are chosen later (bayesian)."""
    first = {p.path: p.extremes()[0] for p in parameters}
    found: list[Trial] = []
    for parameter in parameters:
        for value in parameter.extremes():
            found.append(Trial(len(found) + 1, {**first, parameter.path: value}))
    return found
