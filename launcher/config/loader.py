"""Turn a job config file (+ the training config it names, + `--set` overrides) into a validated LaunchSpec.

Validation happens here, once, at the edge: every problem in both files (and the files they extend), the
overrides and the SageMaker/MLflow limits is collected and raised together as one ConfigError, before
anything is created. Nothing downstream sees a raw dict.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from launcher.config import tracking_uri
from launcher.config.composition import load_composed
from launcher.config.credential_rules import check_files, check_values
from launcher.config.limits import check_limits
from launcher.config.overrides import Override, apply_override, as_string, parse_override
from launcher.config.rules import check_mode_rules, resolve_channels
from launcher.config.spec import TRAIN_KEY, Channel, ConfigSources, JobSettings, LaunchSpec, freeze
from launcher.config.validation import (
    JOB_SCHEMA,
    TRAINING_SCHEMA,
    apply_defaults,
    load_schema,
    schema_at,
    validate_document,
)
from launcher.config.yaml_source import ConfigPath, Location, YamlDocument, problem
from launcher.errors import ConfigError, ConfigProblem


def load_launch_spec(job_file: str | Path, overrides: list[str] | tuple[str, ...] = (),
                     cwd: Path | None = None) -> LaunchSpec:
    """Load, compose, override, validate and resolve; raise ConfigError listing every problem found.

    The resolved config says what actually runs: local paths (channels, outputs, work dir, a sqlite store)
    are made absolute, relative to their file or to `cwd` (default: the current directory). Logged as
    `resolved.yaml` and as params, it is enough to run the job again from anywhere.
    """
    job_path = Path(job_file)
    cwd = cwd or Path.cwd()
    problems: list[ConfigProblem] = []
    parsed = _parse_overrides(overrides, problems)

    job_doc, job_files = load_composed(job_path)
    for item in (item for item in parsed if item.path[0] != TRAIN_KEY):
        _apply(job_doc, item, (), problems)
    job_problems = validate_document(job_doc, JOB_SCHEMA)
    problems += job_problems

    loaded = _load_training_doc(job_doc, job_path, [item for item in parsed if item.path[0] == TRAIN_KEY], problems)
    job: dict[str, Any] = {}
    channels: tuple[Channel, ...] = ()
    if not job_problems:  # the cross-field rules need a job config of the right shape
        job = apply_defaults(job_doc.data, load_schema(JOB_SCHEMA))
        channels, channel_problems = resolve_channels(job, job_doc,
                                                      lambda path: _defining_dir(job_doc, path, job_path))
        problems += channel_problems + check_mode_rules(job, job_doc)
    if problems or loaded is None:
        raise ConfigError(problems)

    train_doc, train_files = loaded
    training = apply_defaults(train_doc.data, load_schema(TRAINING_SCHEMA))
    _resolve_locations(job, channels, cwd)
    spec = _build_spec(job, training, channels, ConfigSources(job_files, train_files, tuple(overrides)))
    locate = partial(_locate, job_doc=job_doc, train_doc=train_doc)
    limit_problems = check_limits(spec, locate)
    if limit_problems:
        raise ConfigError(limit_problems)
    credential_problems = _credentials(spec, locate)
    if credential_problems:
        raise ConfigError(credential_problems)
    return spec


def _credentials(spec: LaunchSpec, locate: Callable[[ConfigPath], Location]) -> list[ConfigProblem]:
    """Values and file lines that look like credentials; a line is reported once (as a value if it is one)."""
    allowed = set(spec.not_secrets)
    found = check_values(spec.resolved, allowed, locate)
    skip = {(where.source, where.line) for where in (locate(path) for path in _allowed_paths(spec, allowed))}
    skip |= {(problem.sort_key[0], problem.sort_key[1]) for problem in found}
    files = [(os.path.normpath(path), path) for path in (*spec.sources.job_files, *spec.sources.training_files)]
    return found + check_files(files, skip)


def _allowed_paths(spec: LaunchSpec, allowed: set[str]) -> list[ConfigPath]:
    """Paths whose file lines the text scan must not report: the escape hatch's, and secret references."""
    paths: list[ConfigPath] = [("secrets", name) for name in spec.secrets]
    paths += [tuple(part for part in dotted.split(".")) for dotted in allowed]
    return paths


def _parse_overrides(overrides: list[str] | tuple[str, ...], problems: list[ConfigProblem]) -> list[Override]:
    parsed: list[Override] = []
    for position, text in enumerate(overrides):
        try:
            parsed.append(parse_override(text, position))
        except ConfigError as error:
            problems.extend(error.problems)
    return parsed


def _locate(path: ConfigPath, job_doc: YamlDocument, train_doc: YamlDocument) -> Location:
    if path[:1] == (TRAIN_KEY,):
        return train_doc.locate(path[1:])
    return job_doc.locate(path)


def _apply(document: YamlDocument, item: Override, prefix: tuple[str, ...], problems: list[ConfigProblem]) -> None:
    schema = load_schema(TRAINING_SCHEMA if prefix else JOB_SCHEMA)
    target = schema_at(schema, item.path[len(prefix) :])
    if target is not None and target.get("type") == "string" and not isinstance(item.value, str):
        item = as_string(item)  # `--set environment.FLAG=1` means the string "1"
    try:
        apply_override(document, item, prefix)
    except ConfigError as error:
        problems.extend(error.problems)


def _defining_dir(document: YamlDocument, path: ConfigPath, top_file: Path) -> Path:
    """Relative paths in a config are relative to the file that set them (`--set` values: the top file)."""
    source = document.locate(path).source
    return top_file.parent if source.startswith("--set") else Path(source).parent


def _load_training_doc(job_doc: YamlDocument, job_path: Path, overrides: list[Override],
                       problems: list[ConfigProblem]) -> tuple[YamlDocument, tuple[Path, ...]] | None:
    """The training config the job config names, with its `train.` overrides applied and validated."""
    reference = job_doc.data.get("training_config")
    if not isinstance(reference, str) or not reference:
        return None  # the schema check has reported it
    train_path = _defining_dir(job_doc, ("training_config",), job_path) / reference
    display = os.path.normpath(train_path)
    if not train_path.is_file():
        where = job_doc.locate(("training_config",))
        problems.append(problem(where, ("training_config",), f"training config {display} not found"))
        return None
    try:
        train_doc, train_files = load_composed(train_path, display)
    except ConfigError as error:
        problems.extend(error.problems)
        return None
    for item in overrides:
        if len(item.path) == 1:
            problems.append(problem(item.location, item.path, "set a field inside it, e.g. train.epochs=5"))
        else:
            _apply(train_doc, item, (TRAIN_KEY,), problems)
    problems.extend(validate_document(train_doc, TRAINING_SCHEMA, prefix=(TRAIN_KEY,)))
    return train_doc, train_files


def _resolve_locations(job: dict[str, Any], channels: tuple[Channel, ...], cwd: Path) -> None:
    """Put absolute locations into the resolved job config (in place)."""
    for channel in channels:
        job["channels"][channel.name]["uri"] = channel.uri
    job["tracking"]["uri"] = tracking_uri.resolve(job["tracking"]["uri"], cwd)
    job["local"]["work_dir"] = str((cwd / job["local"]["work_dir"]).resolve())
    output = job["sagemaker"]["output_path"]
    if not output.startswith("s3://"):
        job["sagemaker"]["output_path"] = str((cwd / output).resolve())


def _build_spec(
    job: dict[str, Any], training: dict[str, Any], channels: tuple[Channel, ...], sources: ConfigSources
) -> LaunchSpec:
    sagemaker = job["sagemaker"]
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
            region=sagemaker.get("region"),
            config_prefix=sagemaker.get("config_prefix"),
            spot=sagemaker.get("spot", {}).get("enabled", False),
            spot_max_wait_seconds=sagemaker.get("spot", {}).get("max_wait_seconds"),
            checkpoint_s3_uri=sagemaker.get("checkpoint_s3_uri"),
            keep_alive_seconds=sagemaker.get("keep_alive_seconds"),
            subnets=tuple(sagemaker.get("vpc", {}).get("subnets", ())),
            security_group_ids=tuple(sagemaker.get("vpc", {}).get("security_group_ids", ())),
            remote_debug=sagemaker["remote_debug"],
        ),
        channels=channels,
        environment=freeze(job["environment"]),
        tags=freeze(job["tags"]),
        work_dir=Path(job["local"]["work_dir"]),
        training=freeze(training),
        resolved=freeze({**job, TRAIN_KEY: training}),
        sources=sources,
        register_as=job["tracking"].get("register_as"),
        keep_jobs=job["local"]["keep_jobs"],
        secrets=freeze(job["secrets"]),
        not_secrets=tuple(job["not_secrets"]),
    )
