"""Resolve the job's secret references into its environment, first thing in the container.

The launcher puts only references in the job's Environment (`SMLAUNCH_SECRET_<VAR>=<Secrets Manager ARN>`,
optionally `#field` for one field of a JSON secret). Here, with the job's own credentials (on SageMaker its
execution role; locally the launcher's AWS settings standing in for it), each is read and set as <VAR>, so
MLflow's client finds MLFLOW_TRACKING_PASSWORD and friends as usual. Values are never printed or logged.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping

from train.contract.handover import SECRET_ENV_PREFIX
from train.contract.secret_refs import BadReference, parse


class SecretUnavailable(RuntimeError):
    """A referenced secret could not be read; the message names the variable and the secret, not a value."""


def references(environ: MutableMapping[str, str]) -> dict[str, str]:
    """{VAR: reference} from the SMLAUNCH_SECRET_* variables."""
    return {name[len(SECRET_ENV_PREFIX) :]: value for name, value in environ.items()
            if name.startswith(SECRET_ENV_PREFIX) and value}


def _read(text: str) -> str:
    """The value a reference names, read with this job's own credentials (the execution role)."""
    import boto3

    reference = parse(text)
    answer = boto3.client("secretsmanager", region_name=reference.region).get_secret_value(SecretId=reference.secret)
    value: str | None = answer.get("SecretString")
    if value is None:
        raise SecretUnavailable(f"{reference.secret} holds binary data, not text")
    if reference.field:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or reference.field not in parsed:
            raise SecretUnavailable(f"{reference.secret} has no field {reference.field!r} (it must be a JSON object "
                                    "holding that field)")
        value = str(parsed[reference.field])
    return value


def resolve_into(environ: MutableMapping[str, str]) -> list[str]:
    """Set every referenced secret as its variable; return the variables set. SecretUnavailable names the one
    that failed."""
    resolved = []
    for name, reference in references(environ).items():
        try:
            environ[name] = _read(reference)
        except SecretUnavailable:
            raise
        except BadReference as error:
            raise SecretUnavailable(f"{name}: {error}") from None
        except Exception as error:
            raise SecretUnavailable(f"cannot read secret {parse(reference).secret} for {name}: "
                                    f"{type(error).__name__}") from None
        resolved.append(name)
    return resolved
