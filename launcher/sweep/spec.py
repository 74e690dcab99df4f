"""Load a sweep file into a validated SweepSpec, refusing it (located) before any run exists.

The file is checked against schemas/sweep.schema.json (`extends:`, did-you-mean and file:line as for job
configs), then the cross-field rules (`values` or a range, ranges that make sense, what each strategy needs),
then every trial it will start is validated as the launch it will be: the base job config with the sweep's
`set` and the trial's values. Grid and random trials are known in advance and each is checked; a bayesian
search chooses its points later, so every value and range end is checked instead. A value the config refuses
is reported at its line in the sweep file, with the config's reason.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.config.composition import load_composed
from launcher.config.credential_rules import check_files, check_values
from launcher.config.loader import load_launch_spec
from launcher.config.overrides import Override, apply_override, parse_override
from launcher.config.spec import LaunchSpec
from launcher.config.tasks import task_metrics
from launcher.config.validation import SWEEP_SCHEMA, load_schema, validate_document
from launcher.config.yaml_source import OVERRIDE_SOURCE, YamlDocument, problem
from launcher.core.errors import ConfigError, ConfigProblem
from launcher.core.guard import check
from launcher.sweep.space import Parameter, Trial, grid, grid_size, probes, random_trials
from train.contract.defaults import apply_defaults

SWEEP_KEYS = ("strategy", "max_trials", "max_parallel", "seed", "max_failures", "objective")  # --set on the sweep
FIXED_PATHS = ("experiment", "mode", "tracking")  # one parent, one store: trials cannot move away from it
MAX_GRID = 500


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base launch, the space, how to search it, and (grid, random) the trials."""

    file: Path
    files: tuple[Path, ...]
    config: Path
    sets: tuple[str, ...]
    strategy: str
    max_trials: int
    max_parallel: int
    seed: int
    max_failures: int | None
    metric: str
    goal: str
    parameters: tuple[Parameter, ...]
    base: LaunchSpec
    trials: tuple[Trial, ...] = ()  # grid and random; a bayesian search draws as it goes
    description: str = ""
    overrides: tuple[str, ...] = field(default_factory=tuple)  # the --set given to `smlaunch sweep`

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    def params(self) -> dict[str, str]:
        """The parent run's params: the search, not any one trial."""
        found = {"sweep.strategy": self.strategy, "sweep.max_trials": str(self.max_trials),
                 "sweep.max_parallel": str(self.max_parallel), "sweep.seed": str(self.seed),
                 "sweep.objective": f"{self.goal} {self.metric}", "sweep.config": str(self.config),
                 "sweep.max_failures": str(self.max_failures or "none")}
        found.update({f"sweep.space.{p.path}": p.describe() for p in self.parameters})
        found.update({f"sweep.set.{item.partition('=')[0]}": item.partition("=")[2] for item in self.sets})
        return found


def load_sweep(path: Path, overrides: Sequence[str] = (), cwd: Path | None = None) -> SweepSpec:
    """Load, validate and expand `path`; raise ConfigError listing every problem (nothing is created)."""
    document, files = load_composed(path)
    problems: list[ConfigProblem] = []
    trial_sets: list[str] = []
    for position, text in enumerate(overrides):
        try:
            item = parse_override(text, position)
        except ConfigError as error:
            problems += error.problems
            continue
        if item.path[0] in SWEEP_KEYS:
            _apply(document, item, problems)
        else:
            trial_sets.append(text)
    problems += validate_document(document, load_schema(SWEEP_SCHEMA))
    problems += _credentials(document, files)
    if problems:
        raise ConfigError(problems)
    data = apply_defaults(document.data, load_schema(SWEEP_SCHEMA))
    found = [_parameter(path, raw, document, data["strategy"], problems) for path, raw in data["parameters"].items()]
    parameters = tuple(parameter for parameter in found if parameter is not None)
    problems += _strategy_rules(data, document, parameters if len(parameters) == len(found) else None)
    config = _config_path(document, path)
    if not config.is_file():
        problems.append(problem(document.locate(("config",)), ("config",), f"job config {config} not found"))
    if problems:
        raise ConfigError(problems)
    sets = (*data["set"], *trial_sets)
    base = load_launch_spec(config, sets, cwd=cwd)
    problems += _base_rules(base, data, document)
    if problems:
        raise ConfigError(problems)
    strategy, seed = data["strategy"], data["seed"]
    limit = data.get("max_trials")
    if strategy == "grid":
        trials = grid(parameters, limit)
    elif strategy == "random":
        trials = random_trials(parameters, limit, seed)
    else:
        trials = []
    bounds = [] if strategy == "grid" else [Trial(0, probe.values) for probe in probes(parameters)]
    _check_trials(config, sets, [*trials, *bounds], document, parameters, cwd)
    return SweepSpec(path, files, config, tuple(sets), strategy, limit or len(trials), data["max_parallel"], seed,
                     data.get("max_failures"), data["objective"]["metric"], data["objective"]["goal"], parameters,
                     base, tuple(trials), data.get("description", ""), tuple(overrides))


def _base_rules(base: LaunchSpec, data: dict[str, Any], document: YamlDocument) -> list[ConfigProblem]:
    """What the trials' config must allow: a job name of their own each, and the objective among the metrics
    the task declares (when it declares them: `x-metrics` in its config.schema.json)."""
    found = []
    if base.job.job_name:
        found.append(problem(document.locate(("config",)), ("config",), "the job config sets sagemaker.job_name, "
                             "but every trial is a job of its own: leave it out (or --set sagemaker.job_name=null)"))
    metric = data["objective"]["metric"]
    declared = task_metrics(base.task)
    if declared is not None and metric not in declared:
        hint = difflib.get_close_matches(metric, declared, n=1)
        advice = f"did you mean '{hint[0]}'?" if hint else f"it logs {', '.join(declared) or 'none'}"
        found.append(problem(document.locate(("objective", "metric")), ("objective", "metric"),
                             f"the task never logs {metric!r} (its schema declares its metrics): {advice}"))
    return found


def _credentials(document: YamlDocument, files: tuple[Path, ...]) -> list[ConfigProblem]:
    """The sweep file is recorded with the parent run (its copy, its description in the note): a value or a
    line (comments too) that looks like a credential is refused, located, as in a job config."""
    found = check_values(document.data, set(), document.locate)
    reported = {(problem.sort_key[0], problem.sort_key[1]) for problem in found}
    return found + check_files([(os.path.normpath(path), path) for path in files], reported)


def _apply(document: YamlDocument, item: Override, problems: list[ConfigProblem]) -> None:
    try:
        apply_override(document, item)
    except ConfigError as error:
        problems += error.problems


def _config_path(document: YamlDocument, top_file: Path) -> Path:
    source = document.locate(("config",)).source
    base_dir = top_file.parent if source.startswith(OVERRIDE_SOURCE) else Path(source).parent
    return Path(os.path.normpath(base_dir / document.data["config"]))


def _parameter(path: str, raw: dict[str, Any], document: YamlDocument, strategy: str,
               problems: list[ConfigProblem]) -> Parameter | None:
    """The parameter at `path`, or None (with the problems recorded) when its entry makes no sense."""
    where = ("parameters", path)

    def refuse(message: str, *key: str) -> None:
        problems.append(problem(document.locate((*where, *key)), (*where, *key), message))

    if path.split(".")[0] in FIXED_PATHS:
        refuse(f"a sweep cannot vary {path.split('.')[0]}: every trial records under the parent's experiment "
               "and store, in the same mode")
    has_range = "min" in raw or "max" in raw
    if "values" in raw and has_range:
        refuse("give either `values` or a `min`/`max` range, not both")
    if "values" in raw:
        for key in ("scale", "type", "steps"):
            if key in raw:
                refuse(f"`{key}` is for a min/max range; `values` are tried as listed", key)
        return Parameter(path, values=tuple(raw["values"]))
    if not has_range:
        refuse("give `values: [...]` or a range with `min` and `max`")
        return None
    if "min" not in raw or "max" not in raw:
        refuse(f"a range needs both `min` and `max` (only `{'min' if 'min' in raw else 'max'}` given)")
        return None
    low, high, scale, kind = raw["min"], raw["max"], raw.get("scale", "linear"), raw.get("type", "float")
    before = len(problems)
    if low >= high:
        refuse(f"min ({low}) must be below max ({high})", "min")
    if scale == "log" and low <= 0:
        refuse(f"a log range needs min above 0 (got {low})", "min")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        refuse("an int range needs whole-number ends", "min" if not float(low).is_integer() else "max")
    if strategy == "grid" and "steps" not in raw:
        refuse("a grid over a range needs `steps` (how many points to try), or give `values`")
    if strategy != "grid" and "steps" in raw:
        refuse(f"`steps` is for the grid strategy; {strategy} draws from the whole range", "steps")
    if len(problems) > before:
        return None
    return Parameter(path, low=low, high=high, scale=scale, kind=kind, steps=raw.get("steps") or 2)


def _strategy_rules(data: dict[str, Any], document: YamlDocument,
                    parameters: tuple[Parameter, ...] | None) -> list[ConfigProblem]:
    """What the strategy needs; `parameters` is None when some were refused (the grid's size is then unknown)."""
    strategy = data["strategy"]
    if strategy != "grid" and "max_trials" not in data:
        return [problem(document.locate(("strategy",)), ("max_trials",),
                        f"the {strategy} strategy needs max_trials (how many trials to run)")]
    if strategy == "grid" and "max_trials" not in data and parameters is not None:
        size = grid_size(parameters)
        if size > MAX_GRID:
            return [problem(document.locate(("parameters",)), ("parameters",),
                            f"the grid has {size} combinations (at most {MAX_GRID}): set max_trials or use "
                            "strategy: random")]
    return []


def _check_trials(config: Path, sets: Sequence[str], trials: list[Trial], document: YamlDocument,
                  parameters: tuple[Parameter, ...], cwd: Path | None) -> None:
    """Validate each trial as the launch it will be (trial 0: a bound of the space, which a draw may reach);
    report refused values at their line in the sweep file."""
    found: dict[tuple[str, str], ConfigProblem] = {}
    by_path = {parameter.path: parameter for parameter in parameters}
    for trial in trials:
        try:
            load_launch_spec(config, (*sets, *trial.overrides()), cwd=cwd)
        except ConfigError as error:
            for refused in error.problems:
                moved = _relocate(refused, trial, len(sets), document, by_path)
                found.setdefault((moved.where, refused.message), moved)
    if found:
        raise ConfigError(list(found.values()))


def _relocate(refused: ConfigProblem, trial: Trial, set_count: int, document: YamlDocument,
              parameters: dict[str, Parameter]) -> ConfigProblem:
    """A problem caused by one of the trial's values, moved to where the sweep file sets that value."""
    position = refused.sort_key[1] - 1  # an override's line is its place on the command line, from 1
    paths = list(trial.values)
    if not refused.where.startswith(OVERRIDE_SOURCE) or not set_count <= position < set_count + len(paths):
        return refused
    path = paths[position - set_count]
    value, parameter = trial.values[path], parameters[path]
    key: tuple[Any, ...] = ("parameters", path)
    if not parameter.is_range:
        key = (*key, "values", parameter.values.index(value))
    elif parameter.low is not None and parameter.high is not None:
        key = (*key, "min" if abs(value - parameter.low) <= abs(value - parameter.high) else "max")
    which = f"trial {trial.number}" if trial.number else "a value the range allows"
    looks = check(path.rsplit(".", 1)[-1], value) if isinstance(value, str) else None
    value_text = f"<the value, which looks like {looks.kind}>" if looks else repr(value)
    return problem(document.locate(key), key, f"{value_text} ({which}) is refused by the config: "
                                              f"{refused.field or path}: {refused.message}")
