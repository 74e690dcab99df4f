"""Cross-field rules JSON Schema cannot express well, checked on the validated config with located messages.

Channels must suit the mode (S3 for SageMaker, existing directories locally); a SageMaker job needs a tracking
store it can reach; spot training excludes warm pools; a managed MLflow ARN needs no credentials in the job;
`secrets:` holds references (train.contract.secret_refs), never a value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from launcher.config.spec import Channel
from launcher.config.tracking_uri import is_local_store, is_managed_mlflow
from launcher.config.yaml_source import ConfigPath, YamlDocument, problem
from launcher.core.errors import ConfigProblem
from launcher.core.guard import in_value
from train.contract import secret_refs

CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def check_mode_rules(job: dict[str, Any], document: YamlDocument) -> list[ConfigProblem]:
    """Problems of the resolved job config `job` (defaults applied), located in `document`."""
    found: list[ConfigProblem] = []

    def add(path: ConfigPath, message: str) -> None:
        found.append(problem(document.locate(path), path, message))

    uri, sagemaker = job["tracking"]["uri"], job["sagemaker"]
    if job["mode"] == "sagemaker" and is_local_store(uri):
        add(("tracking", "uri"), "a SageMaker job cannot reach a local store (sqlite/file): use an MLflow server "
            "URL (http(s)://host:port) reachable from the job, or a SageMaker managed MLflow ARN")
    spot = sagemaker.get("spot", {})
    if spot.get("enabled") and "keep_alive_seconds" in sagemaker:
        add(("sagemaker", "keep_alive_seconds"), "SageMaker does not allow a warm pool with managed spot training: "
            "remove keep_alive_seconds or disable spot")
    if spot.get("enabled") and spot.get("max_wait_seconds", sagemaker["max_runtime_seconds"]) < \
            sagemaker["max_runtime_seconds"]:
        add(("sagemaker", "spot", "max_wait_seconds"), "must be at least sagemaker.max_runtime_seconds")
    for name, text in job["secrets"].items():
        if name in job["environment"]:
            add(("secrets", name), f"{name} is set under environment too: name it in one place only")
        wrong = reference_problem(text)
        if wrong:
            add(("secrets", name), wrong)
    if is_managed_mlflow(uri):
        for name in CREDENTIAL_VARIABLES:
            if name in job["environment"]:
                add(("environment", name), "a SageMaker managed MLflow server authenticates with the job's role: "
                    "remove tracking credentials from the job")
    return found


def reference_problem(text: str) -> str | None:
    """Why a `secrets:` value is not a Secrets Manager reference (never repeating it: it may be the secret)."""
    found = in_value(text)
    if found is not None:
        return (f"this is not a reference: it looks like {found.kind} itself. Store the value in Secrets Manager "
                "and put the secret's ARN or name here")
    try:
        secret_refs.parse(text)
    except secret_refs.BadReference as error:
        return str(error)
    return None


def resolve_channels(
    job: dict[str, Any], document: YamlDocument, base_dir: Callable[[ConfigPath], Path]
) -> tuple[tuple[Channel, ...], list[ConfigProblem]]:
    """Channels with local paths made absolute (relative to `base_dir(path)`), and their problems."""
    found: list[ConfigProblem] = []
    channels = []
    cloud = job["mode"] == "sagemaker"
    for name, settings in job["channels"].items():
        uri, path = settings["uri"], ("channels", name, "uri")
        where = document.locate(path)
        if not uri.startswith("s3://"):
            local = (base_dir(path) / uri).resolve()
            if cloud:
                found.append(problem(where, path, "SageMaker reads channels from S3: use s3://<bucket>/<prefix>"))
            elif not local.is_dir():
                hint = "run `make data` to create the example data" if "data" in uri else "check the path"
                found.append(problem(where, path, f"directory {local} does not exist ({hint})"))
            uri = str(local)
        elif not cloud:
            found.append(problem(where, path, "local modes read channels from local directories"))
        channels.append(Channel(name=name, uri=uri, input_mode=settings["input_mode"],
                                distribution=settings["distribution"]))
    return tuple(channels), found


def resolve_code_dirs(job: dict[str, Any], document: YamlDocument, base_dir: Callable[[ConfigPath], Path]
                      ) -> tuple[tuple[Path, ...], list[ConfigProblem]]:
    """`code.dirs` made absolute (relative to the file that set them); each must be a package directory whose
    name can be imported."""
    found: list[ConfigProblem] = []
    dirs = []
    for index, entry in enumerate(job["code"]["dirs"]):
        path = ("code", "dirs", index)
        directory = (base_dir(path) / entry).resolve()
        if not directory.is_dir():
            found.append(problem(document.locate(path), path, f"directory {directory} does not exist"))
        elif not directory.name.isidentifier():
            found.append(problem(document.locate(path), path, f"{directory.name!r} cannot be imported as a package "
                                 "name: code.dirs lists package directories (e.g. ../train)"))
        dirs.append(directory)
    return tuple(dirs), found
