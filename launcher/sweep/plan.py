"""`smlaunch sweep --dry-run`: the trials the sweep will start (each validated), and for a bayesian search on
SageMaker the CreateHyperParameterTuningJob request, checked against botocore's model; nothing is created."""

from __future__ import annotations

from typing import Any

from launcher.sweep.spec import SweepSpec


def plan(sweep: SweepSpec) -> dict[str, Any]:
    planned: dict[str, Any] = {
        "sweep": str(sweep.file), "config": str(sweep.config), "mode": sweep.base.mode,
        "strategy": sweep.strategy, "max_trials": sweep.max_trials, "max_parallel": sweep.max_parallel,
        "metric": sweep.metric, "goal": sweep.goal, "set": list(sweep.sets),
        "space": {p.path: p.describe() for p in sweep.parameters},
        "trials": [{**trial.as_dict(), "overrides": list(trial.overrides())} for trial in sweep.trials],
    }
    if sweep.base.mode == "sagemaker" and sweep.strategy == "bayesian":
        from launcher.sweep.tuner import planned_request

        planned["request"] = planned_request(sweep)
    return planned
