"""Turn a job config file (+ the training config it names, + `--set` overrides) into a validated LaunchSpec.

Validation happens here, once, at the edge: every problem in both files (and the files they extend), the
overrides and the SageMaker/MLflow limits is collected and raised together as one ConfigError, before
anything is created. Nothing downstream sees a raw dict.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from launcher.config.build import build_spec, locations
from launcher.config.cloud_rules import check_cloud_rules
from launcher.config.composition import foreign_files, load_composed
from launcher.config.credential_rules import check_files, check_values
from launcher.config.distribution_rules import check_distribution, distribution_warnings
from launcher.config.limits import check_limits
from launcher.config.overrides import Override, apply_override, as_string, parse_override
from launcher.config.rules import check_mode_rules, resolve_channels, resolve_code_dirs
from launcher.config.spec import TRAIN_KEY, Channel, ConfigSources, LaunchSpec
from launcher.config.tasks import channel_files, import_roots
from launcher.config.training import TrainingConfig, load_training
from launcher.config.validation import (
    JOB_SCHEMA,
    load_schema,
    read_yaml11_booleans,
    schema_at,
    validate_document,
)
from launcher.config.yaml_source import ConfigPath, Location, YamlDocument, problem
from launcher.core.errors import ConfigError, ConfigProblem
from train.contract.defaults import apply_defaults


@dataclass(frozen=True)
class Relocation:
    """Where a config rebuilt from a run (`smlaunch reproduce`) runs: its relative paths resolve against
    `base_dir` (where the original config was, or a teammate's checkout of it), its code is `code_dirs` (the
    run's own, unpacked) and it records to `tracking_uri` (the store the run was read from). The config itself,
    and so every param, stays as it was written."""

    base_dir: Path
    code_dirs: tuple[Path, ...] | None = None
    tracking_uri: str | None = None


def load_launch_spec(job_file: str | Path, overrides: list[str] | tuple[str, ...] = (),
                     cwd: Path | None = None, relocation: Relocation | None = None) -> LaunchSpec:
    """Load, compose, override, validate and resolve; raise ConfigError listing every problem found.

    The config stays as written (its params and resolved.yaml are the same from any directory, on any machine);
    its local paths (channels, code, outputs, work dir, a sqlite store) are resolved, relative to their file or
    to `cwd` (default: the current directory), into the spec's typed fields and its `locations`.
    """
    job_path = Path(job_file)
    cwd = cwd or Path.cwd()
    problems: list[ConfigProblem] = []
    parsed = _parse_overrides(overrides, problems)

    job_doc, job_files = load_composed(job_path)
    foreign = foreign_files(job_doc, load_schema(JOB_SCHEMA)["properties"], "job")
    if foreign:
        raise ConfigError(foreign)
    for item in (item for item in parsed if item.path[0] != TRAIN_KEY):
        _apply(job_doc, item, problems)
    read_as = read_yaml11_booleans(job_doc, load_schema(JOB_SCHEMA))
    job_problems = validate_document(job_doc, load_schema(JOB_SCHEMA))
    problems += job_problems

    job: dict[str, Any] = {}
    channels: tuple[Channel, ...] = ()
    code_dirs: tuple[Path, ...] = ()
    defining_dir = partial(_defining_dir, job_doc, top_file=job_path)
    path_base = (lambda path: relocation.base_dir) if relocation else defining_dir
    if not job_problems:  # the cross-field rules need a job config of the right shape
        job = apply_defaults(job_doc.data, load_schema(JOB_SCHEMA))
        channels, channel_problems = resolve_channels(job, job_doc, path_base)
        code_dirs, code_problems = resolve_code_dirs(job, job_doc, path_base)
        if relocation is not None and relocation.code_dirs is not None:
            code_dirs, code_problems = relocation.code_dirs, []
        problems += channel_problems + code_problems + check_mode_rules(job, job_doc)
        problems += check_cloud_rules(job, job_doc) + check_distribution(job, job_doc)
    roots = import_roots(code_dirs, job.get("environment", {}).get("PYTHONPATH"))
    training = _load_training(job_doc, job_path, [item for item in parsed if item.path[0] == TRAIN_KEY], roots,
                              problems)
    if problems or training is None:
        raise ConfigError(problems)

    resolved_training = apply_defaults(training.document.data, training.schema)
    located = locations(job, channels, code_dirs, cwd, relocation.tracking_uri if relocation else None)
    spec = build_spec(job, resolved_training, channels, code_dirs,
                      ConfigSources(job_files, training.files, tuple(overrides)), training.task,
                      (*read_as, *training.warnings, *distribution_warnings(job)), located,
                      tuple(channel_files(training.schema, resolved_training)))
    locate = partial(_locate, job_doc=job_doc, train_doc=training.document)
    pipe_problems = _files_in_pipes(spec, locate)
    credential_problems = _credentials(spec, locate)
    limit_problems = [found for found in check_limits(spec, locate)  # a credential is said once, as one
                      if (found.where, found.field) not in {(c.where, c.field) for c in credential_problems}]
    if credential_problems or limit_problems or pipe_problems:
        raise ConfigError(credential_problems + limit_problems + pipe_problems)
    return spec


def _files_in_pipes(spec: LaunchSpec, locate: Callable[..., Location]) -> list[ConfigProblem]:
    """A task that opens files in a channel (its schema marks those fields) cannot read it in Pipe mode: there
    the channel is a stream (/opt/ml/input/data/<channel>_0), not a directory."""
    modes = {channel.name: channel.input_mode for channel in spec.channels}
    return [problem(locate(path), path, f"Pipe mode gives the task a stream, but it opens {field} ({name}) in this "
                                        "channel: use File or FastFile")
            for field, name_of_channel, name in spec.channel_files if modes.get(name_of_channel) == "Pipe"
            for path in [("channels", name_of_channel, "input_mode")]]


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


def _locate(path: ConfigPath, job_doc: YamlDocument, train_doc: YamlDocument, key: bool = False) -> Location:
    if path[:1] == (TRAIN_KEY,):
        return train_doc.locate(path[1:], key=key)
    return job_doc.locate(path, key=key)


def _apply(document: YamlDocument, item: Override, problems: list[ConfigProblem]) -> None:
    target = schema_at(load_schema(JOB_SCHEMA), item.path)
    if target is not None and target.get("type") == "string" and item.value is not None \
            and not isinstance(item.value, str):
        item = as_string(item)  # `--set environment.FLAG=1` means the string "1"
    try:
        apply_override(document, item, ())
    except ConfigError as error:
        problems.extend(error.problems)


def _defining_dir(document: YamlDocument, path: ConfigPath, top_file: Path) -> Path:
    """Relative paths in a config are relative to the file that set them (`--set` values: the top file)."""
    source = document.locate(path).source
    return top_file.parent if source.startswith("--set") else Path(source).parent


def _load_training(job_doc: YamlDocument, job_path: Path, overrides: list[Override], roots: list[Path],
                   problems: list[ConfigProblem]) -> TrainingConfig | None:
    """The training config the job config names (None when it cannot be found or read)."""
    reference = job_doc.data.get("training_config")
    if not isinstance(reference, str) or not reference:
        return None  # the schema check has reported it
    train_path = _defining_dir(job_doc, ("training_config",), job_path) / reference
    display = os.path.normpath(train_path)
    if not train_path.is_file():
        where = job_doc.locate(("training_config",))
        problems.append(problem(where, ("training_config",), f"training config {display} not found"))
        return None
    return load_training(train_path, display, overrides, roots, problems)
