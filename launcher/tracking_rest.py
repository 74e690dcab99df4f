"""Create an MLflow run through MLflow's REST API, without importing mlflow (≈1.1 s of CPU here).

Only the first step of a SageMaker launch needs the run (its ID goes into the job), so this keeps `import mlflow`
off the path to CreateTrainingJob. It covers plain http(s) tracking servers with MLflow's own token or basic
auth settings; anything else (SageMaker managed MLflow ARNs, auth plugins, client certificates) goes through
the MLflow client in `tracking.py`, which is also used for everything after run creation.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from launcher.errors import ExecutionError

API = "/api/2.0/mlflow"
BATCH_LIMIT = 100  # MLflow takes at most 100 params and 100 tags per log-batch call
TIMEOUT_SECONDS = 30
CLIENT_ONLY_SETTINGS = ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_CLIENT_CERT_PATH")


def handles(tracking_uri: str) -> bool:
    """Whether this module can create runs on `tracking_uri` exactly as the MLflow client would."""
    return tracking_uri.startswith(("http://", "https://")) and not any(
        os.environ.get(name) for name in CLIENT_ONLY_SETTINGS
    )


def _headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif user and password:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return headers


def _tls() -> ssl.SSLContext | None:
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        return ssl._create_unverified_context()  # the user asked MLflow for exactly this
    certificate = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=certificate) if certificate else None


def _call(base: str, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One REST call; MLflow's error codes come back in the raised error's message."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base.rstrip('/')}{API}/{endpoint}", data=data, headers=_headers(),
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=_tls()) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}")
        raise ExecutionError(f"MLflow at {base} refused {endpoint} ({error.code} "
                             f"{detail.get('error_code', '')}): {detail.get('message', error.reason)}") from error
    except (urllib.error.URLError, TimeoutError) as error:
        raise ExecutionError(f"cannot reach MLflow at {base}: {getattr(error, 'reason', error)}") from error


def _experiment_id(base: str, name: str) -> str:
    try:
        found = _call(base, f"experiments/get-by-name?experiment_name={quote(name)}")
        return str(found["experiment"]["experiment_id"])
    except ExecutionError as error:
        if "RESOURCE_DOES_NOT_EXIST" not in str(error):
            raise
    return str(_call(base, "experiments/create", {"name": name})["experiment_id"])


def start_run(tracking_uri: str, experiment: str, run_name: str | None, params: Mapping[str, str],
              tags: Mapping[str, str]) -> tuple[str, str, str]:
    """Create the experiment if needed and a RUNNING run with every param and tag; (run id, experiment id,
    artifact URI)."""
    experiment_id = _experiment_id(tracking_uri, experiment)
    body: dict[str, Any] = {"experiment_id": experiment_id, "start_time": int(time.time() * 1000),
                            "tags": [{"key": key, "value": value} for key, value in tags.items()]}
    if run_name:
        body["run_name"] = run_name
    info = _call(tracking_uri, "runs/create", body)["run"]["info"]
    items = [{"key": key, "value": value} for key, value in params.items()]
    for start in range(0, len(items), BATCH_LIMIT):
        _call(tracking_uri, "runs/log-batch", {"run_id": info["run_id"], "params": items[start : start + BATCH_LIMIT]})
    return str(info["run_id"]), experiment_id, str(info.get("artifact_uri", ""))
