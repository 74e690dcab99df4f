"""smlaunch: start SageMaker training jobs from validated YAML configs, tracked in MLflow."""

from __future__ import annotations

__version__ = "0.1.0"
