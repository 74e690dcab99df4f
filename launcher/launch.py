"""One launch, in order: pre-flight → MLflow run → configs staged (and uploaded) → request → executor → final state.

Locally the configs, inputs and tags are recorded on the run before the job runs; for SageMaker right after
CreateTrainingJob, so the slow `import mlflow` is not on the path to the job (the run itself is created over
REST on plain servers).

Config problems are caught before this module runs and pre-flight problems before any side effect, so bad
input never creates a run. Once the run exists, any failure ends it FAILED (or KILLED on Ctrl-C) with the
reason recorded, and configs uploaded for it are removed: never a RUNNING orphan, nothing a rerun trips over.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launcher import tracking, tracking_rest
from launcher.aws import Aws, check_request
from launcher.executors import COMPLETED, STOPPED, JobOutcome, execute
from launcher.fingerprint import fingerprint_local, fingerprint_s3
from launcher.params import flatten
from launcher.preflight import PreflightError, PreflightReport, run_preflight
from launcher.provenance import Provenance, collect_provenance
from launcher.request import build_request, make_job_name
from launcher.run_note import describe_run
from launcher.spec import LaunchSpec
from launcher.staging import CONFIG_ARTIFACT_DIR, stage_configs

IN_PROGRESS = "InProgress"
UNCOMMITTED_DIFF_ARTIFACT = "provenance/uncommitted.diff"
PLACEHOLDERS = {"run_id": "<run-id>", "experiment_id": "<experiment-id>", "job_name": "<job-name>"}


@dataclass(frozen=True)
class LaunchResult:
    """What `smlaunch run` reports."""

    run: tracking.TrackedRun
    job_name: str
    status: str
    outcome: JobOutcome
    request: dict[str, Any]
    links: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "experiment_id": self.run.experiment_id,
            "tracking_uri": self.run.tracking_uri,
            "run_url": tracking.run_url(self.run),
            "status": self.status,
            "job_name": self.job_name,
            "job_status": self.outcome.status,
            "failure_reason": self.outcome.failure_reason,
            "model_artifact": self.outcome.model_artifact,
            **self.links,
        }


@dataclass(frozen=True)
class DryRun:
    """What `smlaunch run --dry-run` shows: the request that would be sent, and the pre-flight results."""

    request: dict[str, Any]
    preflight: PreflightReport

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "preflight_ok": self.preflight.ok,
            "preflight": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.preflight.checks],
            "placeholders": PLACEHOLDERS,
            "request": self.request,
        }


def run_tags(spec: LaunchSpec, provenance: Provenance) -> dict[str, str]:
    """MLflow's own system tags (shown in the UI where people look) plus the launcher's."""
    tags = {
        "mlflow.source.name": str(spec.sources.job_file),
        "mlflow.source.type": "JOB",
        "mlflow.user": provenance.user,
        "launcher.mode": spec.mode,
        "launcher.config_path": str(spec.sources.job_file),
        "launcher.training_config_path": str(spec.sources.training_file),
        "launcher.version": provenance.launcher_version,
        "launcher.command": provenance.command,
        "launcher.python_version": provenance.python_version,
        **spec.tags,
    }
    if provenance.git_commit:
        tags["mlflow.source.git.commit"] = provenance.git_commit
        tags["launcher.git_dirty"] = str(provenance.git_dirty).lower()
    if provenance.git_branch:
        tags["mlflow.source.git.branch"] = provenance.git_branch
    if provenance.git_remote:
        tags["mlflow.source.git.repoURL"] = provenance.git_remote
    tags.update({f"launcher.versions.{name}": version for name, version in provenance.package_versions.items()})
    if provenance.lock_sha256:
        tags["launcher.lock_sha256"] = provenance.lock_sha256
    return tags


def record_inputs(run: tracking.TrackedRun, spec: LaunchSpec, provenance: Provenance, aws: Aws | None) -> None:
    """The uncommitted diff (if any) and a content fingerprint of every data channel, on the run."""
    if provenance.uncommitted_diff:
        tracking.log_text(run, provenance.uncommitted_diff + "\n", UNCOMMITTED_DIFF_ARTIFACT)
    prints = [fingerprint_s3(c.name, c.uri, aws) if aws is not None and c.uri.startswith("s3://")
              else fingerprint_local(c.name, Path(c.uri)) for c in spec.channels]
    tracking.log_datasets(run, [found.as_dataset() for found in prints])


def config_location(spec: LaunchSpec, run_id: str, job_name: str) -> str:
    """Where the job reads its configs: `<config prefix>/<experiment>/<run id>/` on S3, or the local staging dir."""
    if spec.mode == "sagemaker":
        return f"{(spec.job.config_prefix or '').rstrip('/')}/{spec.experiment}/{run_id}/"
    return str(spec.work_dir / job_name / "config")


def plan(spec: LaunchSpec) -> DryRun:
    """The request a launch would send, with placeholders for what only the run creates; nothing is created."""
    aws = Aws(spec.job.region) if spec.mode == "sagemaker" else None
    report = run_preflight(spec, aws)
    run = tracking.TrackedRun(PLACEHOLDERS["run_id"], PLACEHOLDERS["experiment_id"], spec.tracking_uri, "")
    job_name = PLACEHOLDERS["job_name"]
    image = report.image.uri if report.image else None
    request = build_request(spec, run, job_name, config_location(spec, run.run_id, job_name), image)
    if spec.mode == "sagemaker":
        check_request(request, aws if report.ok else None)
    return DryRun(request, report)


def launch(spec: LaunchSpec, cwd: Path, argv: list[str] | None = None, wait: bool = False,
           poll_seconds: float | None = None, interactive: bool = False,
           extra_tags: Mapping[str, str] | None = None) -> LaunchResult:
    """Check, create the run, start the job; wait for local jobs (and cloud ones with `wait`); settle the run."""
    aws = Aws(spec.job.region) if spec.mode == "sagemaker" else None
    if not tracking_rest.handles(spec.tracking_uri):
        tracking.preload_mlflow()  # overlaps the ~1 s import with the network-bound pre-flight
    report = run_preflight(spec, aws)
    if not report.ok:
        raise PreflightError(report)
    provenance = collect_provenance(cwd, argv)
    run = tracking.start_run(spec.tracking_uri, spec.experiment, spec.run_name, flatten(spec.resolved),
                             {**run_tags(spec, provenance), **(extra_tags or {})})
    uploaded: list[str] = []
    try:
        job_name = make_job_name(spec.experiment, run.run_id, datetime.now(UTC))
        staging = spec.work_dir / job_name / "config"
        staged = stage_configs(spec, staging)
        config_uri = config_location(spec, run.run_id, job_name)
        image = report.image.uri if report.image else None
        request = build_request(spec, run, job_name, config_uri, image)
        tags = _launch_tags(spec, provenance, run.run_id, job_name, config_uri, report)
        if aws is None:
            _record(run, spec, provenance, None, staging, tags)
            return _finish_local(spec, run, job_name, request, interactive)
        uploaded = aws.upload([(path, path.relative_to(staging).as_posix()) for path in staged], config_uri)
        check_request(request, aws)
        submitted_at = time.time()
        job_arn = aws.create_training_job(request)
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        tracking.end_run(run, status, f"launch failed: {error}")
        if aws is not None:
            aws.delete_objects(uploaded)
        raise
    try:  # the job is running: what is left only records it, so a failure here must not fail the launch
        _record(run, spec, provenance, aws, staging, tags)
    except Exception as error:
        print(f"warning: the job started, but recording its configs in MLflow failed: {error}", file=sys.stderr)
    return _follow_cloud(aws, run, job_name, job_arn, request, wait, poll_seconds,
                         lambda links: describe_run(spec, provenance, job_name, run.run_id, links), submitted_at)


def _record(run: tracking.TrackedRun, spec: LaunchSpec, provenance: Provenance, aws: Aws | None, staging: Path,
            tags: dict[str, str]) -> None:
    """The staged configs, uncommitted diff and data fingerprints as the run's artifacts and inputs, plus tags.

    For SageMaker this happens right after CreateTrainingJob, keeping `import mlflow` off the path to it.
    """
    tracking.log_directory(run, staging, CONFIG_ARTIFACT_DIR)
    record_inputs(run, spec, provenance, aws)
    tracking.set_tags(run, tags)


def _launch_tags(spec: LaunchSpec, provenance: Provenance, run_id: str, job_name: str, config_uri: str,
                 report: PreflightReport) -> dict[str, str]:
    tags = {
        "launcher.job_name": job_name,
        "launcher.config_uri": config_uri,
        "mlflow.note.content": describe_run(spec, provenance, job_name, run_id),
    }
    if not spec.run_name:
        tags["mlflow.runName"] = job_name
    if report.image:
        tags.update({"launcher.image": spec.job.image or "", "launcher.image_uri": report.image.uri,
                     "launcher.image_digest": report.image.digest})
    if report.region:
        tags["launcher.region"] = report.region
    if report.local_image_id:
        tags.update({"launcher.image": spec.job.image or "", "launcher.image_id": report.local_image_id})
    return tags


def _finish_local(spec: LaunchSpec, run: tracking.TrackedRun, job_name: str, request: dict[str, Any],
                  interactive: bool) -> LaunchResult:
    try:
        shared = tracking.local_store_paths(run.tracking_uri, tracking.experiment_artifact_dir(run))
        outcome = execute(spec.mode, request, spec.work_dir, shared, interactive)
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        tracking.end_run(run, status, f"launch failed: {error}")
        raise
    return LaunchResult(run, job_name, settle(run, outcome), outcome, request)


def _follow_cloud(aws: Aws, run: tracking.TrackedRun, job_name: str, job_arn: str, request: dict[str, Any],
                  wait: bool, poll_seconds: float | None, note: Callable[[dict[str, str]], str],
                  submitted_at: float) -> LaunchResult:
    from launcher.executors import sagemaker

    region = aws.region or ""
    links = {"job_arn": job_arn, "region": region, "console_url": sagemaker.console_url(region, job_name),
             "logs_url": sagemaker.logs_url(region, job_name)}
    try:
        shown = {"SageMaker job": links["console_url"], "Logs": links["logs_url"],
                 "Configs": request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]}
        tracking.set_tags(run, {**{f"launcher.{key}": value for key, value in links.items()},
                                "mlflow.note.content": note(shown)})
    except Exception as error:  # the job runs anyway; a missing tag must not fail the launch
        print(f"warning: could not tag the run with the job's links: {error}", file=sys.stderr)
    outcome = JobOutcome(job_name, IN_PROGRESS)
    if wait:
        try:
            outcome = sagemaker.follow(aws, job_name, poll_seconds or sagemaker.POLL_SECONDS)
        except KeyboardInterrupt:
            print(f"stopped following; the job goes on (smlaunch status {run.run_id})", file=sys.stderr)
    status = settle(run, outcome) if outcome.status != IN_PROGRESS else tracking.run_status(run)
    return LaunchResult(run, job_name, status, outcome, request, {**links, "submitted_at": f"{submitted_at:.3f}"})


def settle(run: tracking.TrackedRun, outcome: JobOutcome) -> str:
    """Make the run's final state agree with the job's, whatever the container managed to record."""
    status = tracking.run_status(run)
    if outcome.status == COMPLETED:
        if status == "RUNNING":  # a task that never touched MLflow still completed
            tracking.end_run(run, "FINISHED")
            status = "FINISHED"
        if outcome.model_artifact:
            tracking.set_tags(run, {"launcher.model_artifact": outcome.model_artifact})
        return status
    if status in ("RUNNING", "FINISHED"):  # the container could not record its own failure
        status = "KILLED" if outcome.status == STOPPED else "FAILED"
        tracking.end_run(run, status, outcome.failure_reason)
    return status
