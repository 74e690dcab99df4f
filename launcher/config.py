"""Turn a job config file (+ the training config it names, + `--set` overrides) into a validated LaunchSpec.

Validation happens here, once, at the edge: every problem in both files and the overrides is collected and
raised together as one ConfigError. Nothing downstream sees a raw dict.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from launcher.errors import ConfigError, ConfigProblem
from launcher.overrides import Override, apply_override, as_string, parse_override
from launcher.spec import Channel, ConfigSources, JobSettings, LaunchSpec, freeze
from launcher.validation import (
    JOB_SCHEMA,
    TRAINING_SCHEMA,
    apply_defaults,
    load_schema,
    schema_at,
    validate_document,
)
from launcher.yaml_source import Location, YamlDocument, load_yaml_mapping, problem

TRAIN_KEY = "train"  # the training config's fields live under `train.` in overrides, params and the resolved config


def load_launch_spec(job_file: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LaunchSpec:
    """Load, override, validate and resolve; raise ConfigError listing every problem found."""
    job_path = Path(job_file)
    problems: list[ConfigProblem] = []
    parsed: list[Override] = []
    for text in overrides:
        try:
            parsed.append(parse_override(text))
        except ConfigError as error:
            problems.extend(error.problems)

    job_doc = load_yaml_mapping(job_path)
    train_overrides = [item for item in parsed if item.path[0] == TRAIN_KEY]
    for item in parsed:
        if item.path[0] != TRAIN_KEY:
            _apply(job_doc, item, (), problems)
    problems.extend(validate_document(job_doc, JOB_SCHEMA))

    train_doc = _load_training_doc(job_doc, job_path, problems)
    if train_doc is not None:
        for item in train_overrides:
            if len(item.path) == 1:
                problems.append(problem(item.location, item.path, "set a field inside it, e.g. train.epochs=5"))
            else:
                _apply(train_doc, item, (TRAIN_KEY,), problems)
        problems.extend(validate_document(train_doc, TRAINING_SCHEMA, prefix=(TRAIN_KEY,)))
    if problems or train_doc is None:
        raise ConfigError(problems)

    job = apply_defaults(job_doc.data, load_schema(JOB_SCHEMA))
    training = apply_defaults(train_doc.data, load_schema(TRAINING_SCHEMA))
    channels = _channels(job, job_doc, job_path.parent)
    sources = ConfigSources(job_path, train_doc.path, tuple(overrides))
    return _build_spec(job, training, channels, sources)


def _apply(document: YamlDocument, item: Override, prefix: tuple[str, ...], problems: list[ConfigProblem]) -> None:
    schema = load_schema(TRAINING_SCHEMA if prefix else JOB_SCHEMA)
    target = schema_at(schema, item.path[len(prefix) :])
    if target is not None and target.get("type") == "string" and not isinstance(item.value, str):
        item = as_string(item)  # `--set environment.FLAG=1` means the string "1"
    try:
        apply_override(document, item, prefix)
    except ConfigError as error:
        problems.extend(error.problems)


def _load_training_doc(job_doc: YamlDocument, job_path: Path, problems: list[ConfigProblem]) -> YamlDocument | None:
    reference = job_doc.data.get("training_config")
    if not isinstance(reference, str) or not reference:
        return None  # the schema check has reported it
    train_path = job_path.parent / reference
    display = os.path.normpath(train_path)
    try:
        return load_yaml_mapping(train_path, display)
    except ConfigError as error:
        where = job_doc.locate(("training_config",))
        for found in error.problems:
            if found.message.startswith("file not found"):
                found = problem(where, ("training_config",), f"training config {display} not found")
            problems.append(found)
        return None


def _channels(job: dict[str, Any], job_doc: YamlDocument, base: Path) -> tuple[Channel, ...]:
    """Channels with local paths made absolute; a missing local directory is a config problem."""
    problems: list[ConfigProblem] = []
    channels = []
    for name, settings in job["channels"].items():
        uri = settings["uri"]
        if not uri.startswith("s3://"):
            local = (base / uri).resolve()
            if job["mode"] == "sagemaker":
                problems.append(_channel_problem(job_doc, name, "SageMaker reads channels from S3: use an s3:// URI"))
            elif not local.is_dir():
                hint = "run `make data` to create the example data" if "data" in uri else "check the path"
                problems.append(_channel_problem(job_doc, name, f"directory {local} does not exist ({hint})"))
            uri = str(local)
        elif job["mode"] != "sagemaker":
            problems.append(_channel_problem(job_doc, name, "local modes read channels from local directories"))
        channels.append(Channel(name=name, uri=uri, input_mode=settings["input_mode"]))
    if problems:
        raise ConfigError(problems)
    return tuple(channels)


def _channel_problem(job_doc: YamlDocument, name: str, message: str) -> ConfigProblem:
    path = ("channels", name, "uri")
    location: Location = job_doc.locate(path)
    return problem(location, path, message)


def _build_spec(
    job: dict[str, Any], training: dict[str, Any], channels: tuple[Channel, ...], sources: ConfigSources
) -> LaunchSpec:
    sagemaker = job["sagemaker"]
    resolved = {**job, TRAIN_KEY: training}
    return LaunchSpec(
        experiment=job["experiment"],
        mode=job["mode"],
        run_name=job.get("run_name"),
        description=job.get("description"),
        tracking_uri=job["tracking"]["uri"],
        job=JobSettings(
            instance_type=sagemaker["instance_type"],
            instance_count=sagemaker["instance_count"],
            volume_size_gb=sagemaker["volume_size_gb"],
            max_runtime_seconds=sagemaker["max_runtime_seconds"],
            output_path=sagemaker["output_path"],
            image=sagemaker.get("image"),
            role_arn=sagemaker.get("role_arn"),
        ),
        channels=channels,
        environment=freeze(job["environment"]),
        tags=freeze(job["tags"]),
        work_dir=Path(job["local"]["work_dir"]),
        training=freeze(training),
        resolved=freeze(resolved),
        sources=sources,
    )
