"""Rules for a SageMaker job that need SageMaker's own lists and limits (from sagemaker_api's table, generated
from botocore's service model), checked at validation, located, before anything is created: the instance
type exists (with "did you mean"), tag keys are the user's to set, the warm-pool limit, and a tracking server
the job could never reach (this laptop, or a private address outside any VPC)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from launcher.config import sagemaker_api
from launcher.config.yaml_source import ConfigPath, YamlDocument, problem
from launcher.core.errors import ConfigProblem

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def check_cloud_rules(job: dict[str, Any], document: YamlDocument) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []

    def add(path: ConfigPath, message: str, key: bool = False) -> None:
        found.append(problem(document.locate(path, key=key), path, message))

    name = job["sagemaker"].get("job_name")
    if name is not None and not sagemaker_api.job_name_ok(name):
        add(("sagemaker", "job_name"), f"SageMaker job names are 1-{sagemaker_api.limit('job_name_chars')} letters, "
            "digits and '-', starting and ending with a letter or digit")
    kms_pattern, kms_chars = sagemaker_api.limit("kms_key_pattern"), sagemaker_api.limit("kms_key_chars")
    for field in ("output_kms_key", "volume_kms_key"):
        key_id = job["sagemaker"].get(field)
        if key_id is not None and (len(key_id) > kms_chars or not re.fullmatch(kms_pattern, key_id)):
            add(("sagemaker", field), "a KMS key ID, ARN, alias (alias/name) or alias ARN: letters, digits and : / _ -")
    if job["mode"] != "sagemaker":
        return found

    sagemaker = job["sagemaker"]
    kind = sagemaker["instance_type"]
    if kind not in sagemaker_api.instance_types():
        hint = difflib.get_close_matches(kind, sagemaker_api.instance_types(), n=1, cutoff=0.7)
        advice = f" — did you mean {hint[0]!r}?" if hint else " (see the InstanceType list of CreateTrainingJob)"
        add(("sagemaker", "instance_type"), f"{kind!r} is not a SageMaker training instance type{advice}")
    elif sagemaker.get("volume_size_gb") == 0 and sagemaker_api.local_storage_gb(kind) == 0:
        add(("sagemaker", "volume_size_gb"), f"0 GB, but {kind} has no instance storage: the job would have no disk "
            "for its data and model; give it a volume (e.g. 30) or pick a type with local NVMe storage")
    limit = sagemaker_api.limit("keep_alive_seconds_max")
    if sagemaker.get("keep_alive_seconds", 0) > limit:
        add(("sagemaker", "keep_alive_seconds"), f"SageMaker keeps a warm pool at most {limit} seconds")
    for key in job["tags"]:
        if key.lower().startswith("aws:"):
            add(("tags", key), "tag keys starting with 'aws:' are reserved for AWS", key=True)
    reason = unreachable(job["tracking"]["uri"], bool(sagemaker.get("vpc")))
    if reason and not job["tracking"]["assume_reachable"]:
        add(("tracking", "uri"), f"{reason} (or set tracking.assume_reachable if a route exists these checks "
            "cannot see)")
    return found


def unreachable(uri: str, has_vpc: bool) -> str | None:
    """Why a SageMaker job could never reach this tracking URI's host, judged from the URI alone."""
    host = (urlsplit(uri).hostname or "").lower()
    if not host:
        return None
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return f"{host} is this machine: a SageMaker job cannot reach it; use a server the job can reach"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: pre-flight resolves it
    if ip.is_loopback or ip.is_unspecified:
        return f"{host} is this machine: a SageMaker job cannot reach it; use a server the job can reach"
    if (ip.is_private or ip.is_link_local) and not has_vpc:
        return (f"{host} is a private address: a job outside your VPC cannot reach it (add sagemaker.vpc with "
                "subnets that route to it, or use a public address)")
    return None
