"""The container's door to MLflow: resume the launcher's run, log metrics in batches, log the model, end the run.

`mlflow.start_run()` resumes the run named by MLFLOW_RUN_ID, the launcher's hand-over. Metrics are buffered
and sent with `log_batch` (one call per few seconds, not one HTTP call per point). On hosts other than the
first, the tracker is disabled: one run, one writer.
"""

from __future__ import annotations

import os
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

from train.handover import FAILURE_TAG, REGISTER_AS_ENV, failure_tag_value, quiet_mlflow

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import torch
    from matplotlib.figure import Figure

FLUSH_SECONDS = 5.0
FLUSH_POINTS = 500
MODEL_NAME = "model"


def _pinned(package: str) -> str | None:
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
    return f"{package}=={version.split('+')[0]}"  # drop local labels such as +cpu


def model_requirements() -> list[str]:
    """Pinned pip requirements of the logged model, read from this environment (no slow inference)."""
    mlflow_dist = "mlflow" if _pinned("mlflow") else "mlflow-skinny"
    found = (_pinned(name) for name in ("torch", mlflow_dist, "numpy"))
    return [requirement for requirement in found if requirement]


class RunTracker:
    """Logs to the active MLflow run; every method is a no-op when `enabled` is False."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.run_id: str | None = None
        self._pending: list[Any] = []
        self._last_flush = time.monotonic()

    @classmethod
    def resume(cls, enabled: bool = True) -> RunTracker:
        tracker = cls(enabled)
        if enabled:
            import mlflow

            quiet_mlflow()
            tracker.run_id = mlflow.start_run().info.run_id
        return tracker

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Queue metrics for `step`; they are sent in batches."""
        if not self.enabled:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending += [Metric(key, float(value), now, step) for key, value in metrics.items()]
        if len(self._pending) >= FLUSH_POINTS or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.enabled or not self._pending:
            return
        from mlflow import MlflowClient

        client = MlflowClient()
        assert self.run_id is not None
        while self._pending:
            batch, self._pending = self._pending[:1000], self._pending[1000:]
            client.log_batch(self.run_id, metrics=batch)
        self._last_flush = time.monotonic()

    def log_figure(self, figure: Figure, artifact_file: str) -> None:
        """Log a matplotlib figure as an image artifact (e.g. plots/learning_curves.png)."""
        if self.enabled:
            import mlflow

            mlflow.log_figure(figure, artifact_file)

    def log_model(self, model: torch.nn.Module, input_example: np.ndarray[Any, Any], model_dir: Path) -> None:
        """Log the model to the run (signature, input example, pinned requirements) and save it to `model_dir`."""
        import mlflow.pytorch
        import torch
        from mlflow.models import infer_signature

        model.eval()
        with torch.no_grad():
            prediction = model(torch.from_numpy(input_example)).numpy()
        signature = infer_signature(input_example, prediction)
        requirements = model_requirements()
        mlflow.pytorch.save_model(model, str(model_dir / MODEL_NAME), signature=signature,
                                  input_example=input_example, pip_requirements=requirements)
        if self.enabled:
            mlflow.pytorch.log_model(model, name=MODEL_NAME, signature=signature, input_example=input_example,
                                     pip_requirements=requirements,
                                     registered_model_name=os.environ.get(REGISTER_AS_ENV) or None)

    def finish(self) -> None:
        if self.enabled:
            import mlflow

            self.flush()
            mlflow.end_run("FINISHED")

    def fail(self, reason: str, killed: bool = False) -> None:
        """Best effort: keep what was measured, record why, end the run FAILED (or KILLED)."""
        if not self.enabled:
            return
        import mlflow

        try:
            self.flush()
        finally:
            mlflow.set_tag(FAILURE_TAG, failure_tag_value(reason))
            mlflow.end_run("KILLED" if killed else "FAILED")
