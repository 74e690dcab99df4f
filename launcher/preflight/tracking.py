"""Can the job reach the tracking server, and will the server let it in?

From this laptop: `/health` answers (through MLflow's own HTTP layer: its TLS settings, its retries). From the
job: the server's name must not resolve to this machine (loopback) or, without `sagemaker.vpc`, to a private or
link-local address a job outside your VPC cannot route to. And the job must bring credentials where the server
asks for them: an anonymous read shows whether it does, and the job's Environment and `secrets:` show what
the job will have. Secret values are never read here (Secrets Manager is asked for metadata only); the job
reads them with its own role, in SageMaker and in the local modes alike.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from launcher.config.cloud_rules import unreachable
from launcher.config.spec import LaunchSpec
from launcher.core.errors import LauncherError
from launcher.tracking import client
from train.contract.uris import redact

EXPERIMENT_BY_NAME = "/api/2.0/mlflow/experiments/get-by-name"
SIGNED = "MLFLOW_TRACKING_AWS_SIGV4"
CREDENTIALS = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")  # what authenticates (with a username, or alone)


def check_health(uri: str) -> str:
    """GET <server>/health from this machine; an MLflow server answers 200 OK."""
    status = client.http_status(uri, "/health")
    if status != 200:
        raise LauncherError(f"{redact(uri)}/health answered HTTP {status}: is this an MLflow server?")
    return f"{redact(uri)} answers ({status})"


def check_experiment(spec: LaunchSpec) -> str:
    """The experiment the launch records in is usable as the launch will use it: a deleted one (MLflow deletes
    softly, from the UI) refuses new runs."""
    found = client.experiment_state(spec.tracking_uri, spec.experiment)
    if found is None:
        return f"experiment {spec.experiment!r} is created with the first run"
    state, experiment_id = found
    if state != "active":
        raise LauncherError(f"experiment {spec.experiment!r} was deleted (MLflow keeps it, soft-deleted, and takes no "
                            f"new run in it): restore it with `MLFLOW_TRACKING_URI={redact(spec.tracking_uri)} "
                            f"mlflow experiments restore --experiment-id {experiment_id}`, or set another experiment")
    return f"experiment {spec.experiment!r} ({experiment_id}) is active"


def check_route(uri: str, has_vpc: bool) -> str:
    """What the server's name resolves to, judged from the job's side."""
    host = urlsplit(uri).hostname or ""
    try:
        addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except OSError as error:
        raise LauncherError(f"{host} does not resolve ({error}): the job will not find it either") from error
    for address in addresses:
        problem = unreachable(f"http://[{address}]" if ":" in address else f"http://{address}", has_vpc)
        if problem:
            raise LauncherError(f"{host} resolves to {address}: {problem}")
    return f"{host} resolves to {', '.join(addresses)}"


def job_credentials(spec: LaunchSpec) -> list[str]:
    """The MLflow credentials the job will have, by name: in its Environment, or by reference under `secrets:`."""
    have = [name for name in (*CREDENTIALS, "MLFLOW_TRACKING_USERNAME") if name in spec.secrets]
    have += [name for name in (*CREDENTIALS, "MLFLOW_TRACKING_USERNAME") if name in spec.environment]
    if spec.environment.get(SIGNED, "").lower() == "true":
        have.append(SIGNED)
    return sorted(set(have))


def check_job_credentials(spec: LaunchSpec) -> str:
    """Whether the server asks for credentials, and whether the job will bring some."""
    status = client.http_status(spec.tracking_uri, EXPERIMENT_BY_NAME, anonymous=True, experiment_name=spec.experiment)
    have = job_credentials(spec)
    if status in (200, 404):
        return "the server takes requests without credentials" + (f"; the job also has {', '.join(have)}"
                                                                   if have else "")
    if status not in (401, 403):
        raise LauncherError(f"{redact(spec.tracking_uri)} answered a read with HTTP {status}")
    if not any(name in have for name in (*CREDENTIALS, SIGNED)):
        where = "SageMaker" if spec.mode == "sagemaker" else "the local job"
        raise LauncherError(
            f"{redact(spec.tracking_uri)} asks for credentials ({status}) and {where} will have none (your own "
            "MLflow credentials stay on this machine): add them by reference, e.g. `environment: "
            "{MLFLOW_TRACKING_USERNAME: <user>}` and `secrets: {MLFLOW_TRACKING_PASSWORD: <Secrets Manager "
            "secret ARN or name>}`")
    referenced = [name for name in have if name in spec.secrets]
    by_reference = f" ({', '.join(referenced)} from Secrets Manager, read by the job)" if referenced else ""
    return f"the server asks for credentials and the job has {', '.join(have)}{by_reference}"
