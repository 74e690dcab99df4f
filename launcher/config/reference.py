"""Render the JSON Schemas as the configuration reference users read (docs/configuration.md).

Generated, never edited by hand: `make docs` writes it and a test fails when it is out of date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from launcher.config.tasks import compose, load_task_schema
from launcher.config.validation import JOB_SCHEMA, SWEEP_SCHEMA, TRAINING_SCHEMA, load_schema

EXAMPLE_TASK = "digits"  # the one task the launcher's own docs describe (a team's tasks have their own docs)
HEADER = """# Configuration reference

Generated from `schemas/*.schema.json` and the example task's `train/digits/config.schema.json` by `make docs`
(`smlaunch schema --markdown`); do not edit by hand. Every field can be overridden on the command line with
`--set <field>=<value>`; training config fields take the `train.` prefix there (`--set train.optimizer.lr=0.01`),
and carry the same names as MLflow params.
"""


def task_schemas(train_dir: Path) -> dict[str, Path]:
    """{task name: its config.schema.json} for every task package under `train_dir` (train/<name>/)."""
    return {path.parent.name: path for path in sorted(train_dir.glob("*/config.schema.json"))}


def render_markdown(train_dir: Path) -> str:
    """The whole reference: the job config, the fields every training config has, each task's own, then the
    sweep file."""
    parts = [HEADER]
    sections = [(load_schema(JOB_SCHEMA), f"Job config (`schemas/{JOB_SCHEMA}`)", ""),
                (load_schema(TRAINING_SCHEMA), f"Training config: every task (`schemas/{TRAINING_SCHEMA}`)", "train.")]
    sections += [(load_task_schema(path), f"Training config: task `{name}` (`train/{name}/config.schema.json`)",
                  "train.") for name, path in task_schemas(train_dir).items() if name == EXAMPLE_TASK]
    sweep = load_schema(SWEEP_SCHEMA)
    sections += [(sweep, f"Sweep file (`schemas/{SWEEP_SCHEMA}`)", ""),
                 (sweep["$defs"]["parameter"], "Sweep parameter (`parameters.<path>`)", "parameters.<path>.")]
    for schema, title, prefix in sections:
        parts += [f"## {title}", "", schema.get("description", ""), ""]
        parts += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        parts += [_row(prefix + path, sub, required) for path, sub, required in _fields(schema, "")]
        parts += ["", *_conditions(schema), ""]
    parts += request_fields_markdown()
    return "\n".join(parts).rstrip() + "\n"


# Every CreateTrainingJob member (botocore's model, in sagemaker_api's table) the request builder sets, and for
# the rest why the job config does not offer it; tests/test_schema_docs.py fails when a member is in neither.
OFFERED = {
    "TrainingJobName": "`sagemaker.job_name`, else `<experiment>-<run id>-<time>`",
    "AlgorithmSpecification": "`sagemaker.image` (pinned to its digest); input mode File (a channel's own mode wins)",
    "RoleArn": "`sagemaker.role_arn`",
    "InputDataConfig": "`channels` (plus the `config` and `code` channels smlaunch stages)",
    "OutputDataConfig": "`sagemaker.output_path`, `sagemaker.output_kms_key`",
    "ResourceConfig": "`sagemaker.instance_type`, `instance_count`, `volume_size_gb`, `volume_kms_key`, "
                      "`keep_alive_seconds`",
    "VpcConfig": "`sagemaker.vpc`",
    "StoppingCondition": "`sagemaker.max_runtime_seconds`, `sagemaker.spot.max_wait_seconds`",
    "Tags": "`tags` (plus the MLflow run's IDs)",
    "EnableManagedSpotTraining": "`sagemaker.spot.enabled`",
    "CheckpointConfig": "`sagemaker.checkpoint_s3_uri`",
    "Environment": "`environment`, `secrets` (as references) and the MLflow hand-over",
    "RemoteDebugConfig": "`sagemaker.remote_debug`",
    "HyperParameters": "not set for a training job: the training config travels whole in the `config` channel "
                       "(any size); a SageMaker tuning job's tuned keys are its hyperparameters",
}
NOT_OFFERED = {
    "EnableNetworkIsolation": "an isolated container reaches no network: not the tracking server, nor Secrets "
                              "Manager, so the run could record nothing",
    "EnableInterContainerTrafficEncryption": "not yet offered: torchrun's traffic between hosts; ask if you need it",
    "DebugHookConfig": "SageMaker Debugger hooks: the run's metrics go to MLflow instead",
    "DebugRuleConfigurations": "SageMaker Debugger rules: see DebugHookConfig",
    "TensorBoardOutputConfig": "TensorBoard output: metrics and plots go to the MLflow run",
    "ExperimentConfig": "SageMaker Experiments: MLflow is the experiment record here",
    "ProfilerConfig": "SageMaker Profiler: not offered, to keep one record (MLflow)",
    "ProfilerRuleConfigurations": "see ProfilerConfig",
    "RetryStrategy": "SageMaker's automatic retries would start the job again on the same run without its knowing; "
                     "spot restarts (checkpoints) are how a job resumes",
    "InfraCheckConfig": "cluster health checks for large GPU fleets: not offered yet",
    "SessionChainingConfig": "role session chaining: not offered yet",
    "ServerlessJobConfig": "serverless (model customization) jobs are another kind of job",
    "MlflowConfig": "SageMaker's own MLflow wiring: smlaunch hands the run over itself (and supports managed "
                    "MLflow by its ARN as tracking.uri)",
    "ModelPackageConfig": "model registration: `tracking.register_as` registers the model in MLflow",
}


def request_fields_markdown() -> list[str]:
    """The CreateTrainingJob fields: what sets each, or why the config does not offer it."""
    from launcher.config import sagemaker_api

    lines = ["## CreateTrainingJob: what sets each field", "",
             "Every member of SageMaker's CreateTrainingJob request (botocore's model), what in the job config sets "
             "it, or why it is not offered.", "", "| field | set by, or why not |", "| --- | --- |"]
    for member in sagemaker_api.table()["request_members"]:
        text = OFFERED.get(member) or f"not offered: {NOT_OFFERED.get(member, 'not reviewed yet')}"
        lines.append(f"| `{member}` | {text} |")
    return [*lines, ""]


def composed_task_schemas(train_dir: Path) -> dict[str, str]:
    """{task name: the common training schema composed with the task's, as JSON}: what editors validate
    `configs/train/<task>.yaml` against (schemas/tasks/<task>.schema.json)."""
    common = load_schema(TRAINING_SCHEMA)
    return {name: json.dumps(compose(common, load_task_schema(path)), indent=2) + "\n"
            for name, path in task_schemas(train_dir).items()}


def _fields(schema: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted path, subschema, required in its parent) for every field, depth first."""
    required = schema.get("required", [])
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, sub, name in required
        yield from _fields(sub, path + ".")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield f"{path}.<name>", extra, False
            yield from _fields(extra, f"{path}.<name>.")


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {schema.get('items', {}).get('type', 'value')}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = schema["additionalProperties"].get("type", "value")
        return f"map of {inner}"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> list[str]:
    notes = []
    bounds = [(key, schema[key]) for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
                                               "minLength", "maxLength", "minItems", "maxItems",
                                               "minProperties", "maxProperties") if key in schema]
    notes += [f"{key} {value}" for key, value in bounds]
    if "pattern" in schema:
        escaped = schema["pattern"].replace("|", "\\|")  # a bare | would split the table cell
        notes.append(f"pattern `{escaped}`")
    if "examples" in schema:
        notes.append("e.g. " + ", ".join(f"`{example}`" for example in schema["examples"]))
    return notes


def _row(path: str, schema: dict[str, Any], required: bool) -> str:
    default = f"`{json.dumps(schema['default'])}`" if "default" in schema else ("**required**" if required else "")
    text = schema.get("description", "")
    notes = _constraints(schema)
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return f"| `{path}` | {_type(schema)} | {default} | {text} |"


def _conditions(schema: dict[str, Any]) -> list[str]:
    lines = []
    for rule in schema.get("allOf", []):
        condition = rule.get("if", {}).get("properties", {})
        then = rule.get("then", {})
        for field, test in condition.items():
            required = [f"`{name}`" for name in then.get("required", [])]
            for parent, sub in then.get("properties", {}).items():
                required += [f"`{parent}.{name}`" for name in sub.get("required", [])]
                required += [f"`{parent}.{name}` matching `{rule_['pattern']}`"
                             for name, rule_ in sub.get("properties", {}).items() if "pattern" in rule_]
            lines.append(f"- When `{field}` is `{test.get('const')}`: " + ", ".join(required) + ".")
    return lines
