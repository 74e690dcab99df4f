"""Which trial comes next: the planned list (grid, random), or Optuna's TPE sampler (bayesian, local).

Optuna's ask/tell interface lets `max_parallel` trials be asked for before the first is told; a resumed
sweep tells the study every trial that already finished, so the search goes on from what it learnt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from launcher.sweep.space import Parameter, Trial
from launcher.sweep.spec import SweepSpec
from launcher.sweep.trials import TrialResult


class Search(Protocol):
    def next(self) -> Trial | None: ...

    def tell(self, result: TrialResult) -> None: ...


class PlannedSearch:
    """The trials known in advance, in order, minus those already finished."""

    def __init__(self, trials: Sequence[Trial], done: Sequence[TrialResult]) -> None:
        finished = {result.trial.number for result in done if result.status == "FINISHED"}
        self._left = [trial for trial in trials if trial.number not in finished]

    def next(self) -> Trial | None:
        return self._left.pop(0) if self._left else None

    def tell(self, result: TrialResult) -> None:
        """A planned search does not learn."""


class BayesianSearch:
    """Optuna's TPE sampler, seeded; until `max_trials` trials have finished or been started."""

    def __init__(self, sweep: SweepSpec, done: Sequence[TrialResult]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._parameters = sweep.parameters
        self._distributions = {p.path: _distribution(optuna, p) for p in sweep.parameters}
        startup = max(3, min(10, sweep.max_trials // 3))  # random draws before TPE models what it has seen
        sampler = optuna.samplers.TPESampler(seed=sweep.seed, n_startup_trials=startup,
                                             constant_liar=sweep.max_parallel > 1)
        self._study = optuna.create_study(direction="maximize" if sweep.maximize else "minimize", sampler=sampler)
        self._asked: dict[int, Any] = {}
        finished = [r for r in done if r.status == "FINISHED" and r.objective is not None]
        for result in finished:
            self._study.add_trial(optuna.trial.create_trial(
                params={p.path: _encoded(p, result.trial.values[p.path]) for p in self._parameters},
                distributions=self._distributions, value=result.objective))
        self._left = max(sweep.max_trials - len(finished), 0)
        self._number = max((r.trial.number for r in done), default=0)

    def next(self) -> Trial | None:
        if self._left <= 0:
            return None
        self._left -= 1
        self._number += 1
        asked = self._study.ask(self._distributions)
        self._asked[self._number] = asked
        values = {p.path: _decoded(p, asked.params[p.path]) for p in self._parameters}
        return Trial(self._number, values)

    def tell(self, result: TrialResult) -> None:
        asked = self._asked.pop(result.trial.number, None)
        if asked is None:
            return
        if result.status == "FINISHED" and result.objective is not None:
            self._study.tell(asked, result.objective)
        else:
            self._study.tell(asked, state=self._optuna.trial.TrialState.FAIL)


def make_search(sweep: SweepSpec, done: Sequence[TrialResult]) -> Search:
    return BayesianSearch(sweep, done) if sweep.strategy == "bayesian" else PlannedSearch(sweep.trials, done)


def _distribution(optuna: Any, parameter: Parameter) -> Any:
    if not parameter.is_range:
        return optuna.distributions.CategoricalDistribution([json.dumps(v) for v in parameter.values])
    log = parameter.scale == "log"
    if parameter.kind == "int":
        return optuna.distributions.IntDistribution(int(parameter.low or 0), int(parameter.high or 0), log=log)
    return optuna.distributions.FloatDistribution(parameter.low, parameter.high, log=log)


def _encoded(parameter: Parameter, value: Any) -> Any:
    return json.dumps(value) if not parameter.is_range else value


def _decoded(parameter: Parameter, value: Any) -> Any:
    if not parameter.is_range:
        return json.loads(value)
    return parameter.cast(value)
