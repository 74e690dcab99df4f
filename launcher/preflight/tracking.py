"""Can the job reach the tracking server, and will the server let it in?

From this laptop: `/health` answers. From the job: the server's name must not resolve to this machine
(loopback) or, without `sagemaker.vpc`, to a private or link-local address a job outside your VPC cannot
route to. And an authenticated read is made with only what the job will have — its Environment and its
resolved secrets, never the laptop's MLflow credentials — through MLflow's own HTTP layer.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from launcher.cloud.aws import Aws
from launcher.config.cloud_rules import unreachable
from launcher.config.spec import LaunchSpec
from launcher.config.tracking_uri import redact
from launcher.errors import LauncherError
from launcher.tracking import client

HEALTH_TIMEOUT_SECONDS = 5
CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                        "MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_TRACKING_INSECURE_TLS")


def check_health(uri: str) -> str:
    """GET <server>/health from this machine; an MLflow server answers 200 OK."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise LauncherError(f"{redact(url)} answered HTTP {error.code}: is this an MLflow server?") from error
    except (urllib.error.URLError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise LauncherError(f"cannot reach {redact(uri)} from this machine ({reason}): start it or fix "
                            "tracking.uri") from error
    return f"{redact(uri)} answers ({status})"


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


def job_credentials(spec: LaunchSpec, aws: Aws | None) -> dict[str, str]:
    """The MLflow settings the job will have: its Environment, plus its secrets read as the job would."""
    found = {name: value for name, value in spec.environment.items() if name in CREDENTIAL_VARIABLES}
    for name, reference in spec.secrets.items():
        if name in CREDENTIAL_VARIABLES and aws is not None:
            secret, _, field = reference.partition("#")
            value = aws.call("secretsmanager", "get_secret_value", f"cannot read secret {secret}",
                             SecretId=secret).get("SecretString", "")
            if field:
                import json

                value = str(json.loads(value).get(field, ""))
            found[name] = value
    return found


def check_job_can_read(uri: str, experiment: str, credentials: Mapping[str, str]) -> str:
    """An authenticated read (get-experiment-by-name) with the job's credentials only."""
    status = client.read_status_as(uri, experiment, credentials)
    if status in (401, 403):
        given = sorted(credentials) or ["no MLflow credentials"]
        raise LauncherError(f"{redact(uri)} refuses the job ({status}) with what it will have "
                            f"({', '.join(given)}): give the job its credentials under `secrets:`")
    if status not in (200, 404):
        raise LauncherError(f"{redact(uri)} answered the job's read with HTTP {status}")
    return f"the job's credentials ({', '.join(sorted(credentials)) or 'none needed'}) are accepted"
