"""What the launcher and the container agree on beyond SageMaker's /opt/ml contract. Stdlib only.

The launcher imports these names too, so each is defined once: the environment variables of the MLflow
hand-over, the run tag holding a failure reason (and its length cut), and how MLflow's chatter is quietened.
"""

from __future__ import annotations

import logging
import os

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ID_ENV = "MLFLOW_EXPERIMENT_ID"
RUN_ID_ENV = "MLFLOW_RUN_ID"
REGISTER_AS_ENV = "SMLAUNCH_REGISTER_AS"  # model registry name (tracking.register_as)
# SMLAUNCH_SECRET_<VAR>=<Secrets Manager ARN[#field]>: resolved into VAR (a name, not a credential:)
SECRET_ENV_PREFIX = "SMLAUNCH_SECRET_"  # pragma: allowlist secret
RESUMABLE_ENV = "SMLAUNCH_RESUMABLE"  # "true": a SIGTERM is a spot reclaim the job restarts from (keep RUNNING)
DISTRIBUTION_ENV = "SMLAUNCH_DISTRIBUTION"  # "torchrun": each host starts its workers with torch.distributed.run
PROCESSES_PER_HOST_ENV = "SMLAUNCH_PROCESSES_PER_HOST"  # "auto" (GPUs, else 1) or a number
BACKEND_ENV = "SMLAUNCH_BACKEND"  # "auto" (nccl with GPUs, else gloo), "gloo" or "nccl"
DISTRIBUTION_VARIABLES = (DISTRIBUTION_ENV, PROCESSES_PER_HOST_ENV, BACKEND_ENV)
# Local runs only: SageMaker's hosts reach the first one by its name (algo-1) on a fixed port; hosts on one
# machine rendezvous on loopback, on a port free for this job
MASTER_ADDR_ENV = "SMLAUNCH_MASTER_ADDR"
MASTER_PORT_ENV = "SMLAUNCH_MASTER_PORT"
WATCH_LAUNCHER_ENV = "SMLAUNCH_WATCH_LAUNCHER"  # local only, "true": stop when the launcher dies (runtime.orphan)
# A tuning trial (SageMaker's tuner starts it, not the launcher): no MLFLOW_RUN_ID, but the sweep's parent run;
# the container creates its own run under it, applies the tuned hyperparameters (SMLAUNCH_TUNED: their names)
# and prints each metric as a line SageMaker's metric definitions read
PARENT_RUN_ID_ENV = "SMLAUNCH_PARENT_RUN_ID"
TUNED_ENV = "SMLAUNCH_TUNED"
METRIC_LINES_ENV = "SMLAUNCH_METRIC_LINES"
METRIC_LINE_PREFIX = "[smlaunch-metric]"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: the UI nests a trial's run under the sweep's parent
TRIAL_TAG = "launcher.sweep.trial"  # the trial's number (a tuning trial: its training job's name)
# The start of a worker's failure reason when its error is the loss of another worker (a consequence, not a
# cause): the launcher then names the host whose failure started it
PEER_LOST = "lost contact with another process of the job"


def handover_variables(register_as: bool, resumable: bool, secrets: tuple[str, ...] = (),
                       distributed: bool = False) -> tuple[str, ...]:
    """The Environment entries the launcher adds to a job (they count against SageMaker's 100)."""
    names = (TRACKING_URI_ENV, EXPERIMENT_ID_ENV, RUN_ID_ENV, *(SECRET_ENV_PREFIX + name for name in secrets))
    return names + ((REGISTER_AS_ENV,) if register_as else ()) + ((RESUMABLE_ENV,) if resumable else ()) + \
        (DISTRIBUTION_VARIABLES if distributed else ())


FAILURE_TAG = "launcher.failure_reason"
DROPPED_METRICS_TAG = "launcher.dropped_metrics"  # metric names MLflow refused, which the job did not record
MODEL_PENDING_TAG = "launcher.model_pending"  # the model the job saved but could not log (in model.tar.gz)
FAILURE_TAG_LIMIT = 5000  # MLflow tag values hold up to 8000 characters; the reason comes first anyway

QUIET_LOGGERS = ("mlflow", "alembic", "sagemaker_mlflow")


def failure_tag_value(reason: str) -> str:
    """The failure reason as stored on the run: cut to FAILURE_TAG_LIMIT characters."""
    return reason[:FAILURE_TAG_LIMIT]


def quiet_mlflow() -> None:
    """Keep MLflow's chatter (migrations, plugin warnings, run links) off the user's terminal and JSON.

    Call it after importing mlflow: the import sets its loggers' levels.
    """
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
