"""One launch, in order: pre-flight → MLflow run → configs staged (and uploaded) → request → executor → final state.

Config problems are caught before this module runs and pre-flight problems before any side effect, so bad
input never creates a run. Once the run exists, any failure ends it FAILED (or KILLED on Ctrl-C) once, with
the reason recorded, and configs uploaded for it are removed: never a RUNNING orphan, nothing a rerun trips
over. Locally the configs, inputs and tags are recorded before the job runs; for SageMaker right after
CreateTrainingJob, so the job starts as early as possible.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws, check_request
from launcher.commands.jobs import settle_orphans
from launcher.commands.report import LaunchResult
from launcher.config import tracking_uri
from launcher.config.spec import LaunchSpec
from launcher.core.errors import ConfigError, interruption
from launcher.core.failsafe import guarded
from launcher.executors import execute, local_jobs
from launcher.executors.hosts import JobInterrupted
from launcher.executors.tree import prune_job_trees
from launcher.job.code import pack, untracked
from launcher.job.outcome import IN_PROGRESS, OUTCOME_FILE, JobOutcome
from launcher.job.request import build_request, make_job_name
from launcher.job.staging import stage_job
from launcher.preflight.checks import PreflightError, PreflightReport, run_preflight
from launcher.tracking import client
from launcher.tracking.client import TrackedRun
from launcher.tracking.fingerprint import Fingerprint, fingerprint_listing
from launcher.tracking.lifecycle import settle
from launcher.tracking.provenance import Provenance, collect_provenance, diff_credentials
from launcher.tracking.record import record_launch
from launcher.tracking.run_note import describe_run
from launcher.tracking.tags import code_tags, image_tags, job_tags, run_tags
from train.contract.params import as_params


def launch(spec: LaunchSpec, cwd: Path, argv: list[str] | None = None, wait: bool = False,
           poll_seconds: float | None = None, interactive: bool = False,
           extra_tags: Mapping[str, str] | None = None, interrupt_after: float | None = None,
           image: str | None = None, copies_from: Path | None = None) -> LaunchResult:
    """Check, create the run, start the job; wait for local jobs (and cloud ones with `wait`); settle the run.

    `image` runs that image instead of the configured one as pre-flight pinned it (a reproduced run's digest);
    `copies_from` holds the config files as written to stage (a reproduced run's originals)."""
    if image is not None:  # what runs, checked and tagged as such; the config recorded stays as written
        spec = replace(spec, job=replace(spec.job, image=image))
    aws = Aws(spec.job.region) if spec.mode == "sagemaker" else None
    client.preload_mlflow(spec.tracking_uri)  # overlaps the ≈2 s import with pre-flight and provenance
    report = run_preflight(spec, aws)
    if not report.ok:
        raise PreflightError(report)
    provenance = collect_provenance(cwd, argv)
    leaks = diff_credentials(provenance.uncommitted_diff)
    if leaks:
        raise ConfigError(leaks)
    code = pack(spec.code_dirs, spec.code_max_bytes) if spec.code_dirs else None
    if code is not None and code.left_out:
        print(f"notice: credential files left out of the shipped code: {', '.join(code.left_out)}", file=sys.stderr)
    shipped_untracked = untracked(spec.code_dirs, code.files) if code is not None else ()
    if shipped_untracked and provenance.git_commit:
        provenance = replace(provenance, git_dirty=True)
    run = client.start_run(spec.tracking_uri, spec.experiment, spec.run_name, as_params(spec.resolved),
                           {**run_tags(spec, provenance, shipped_untracked), **(extra_tags or {})})
    uploaded: list[str] = []
    try:
        prune_job_trees(spec.work_dir, spec.keep_jobs)
        job_name = spec.job.job_name or make_job_name(spec.experiment, run.run_id, datetime.now(UTC))
        if aws is None:  # this launcher's job, from now on: `status` and the next launch can tell it is alive
            local_jobs.claim(spec.work_dir / job_name)
        staged = stage_job(spec, run.run_id, job_name, code, copies_from)
        staging, config_uri, code_file = staged.directory, staged.config_uri, staged.code_file
        image = image or (report.image.uri if report.image else None)
        request = build_request(spec, run, job_name, config_uri, image, report.secret_refs or None, staged.code_uri)
        tags = {**job_tags(spec, job_name, config_uri, describe_run(spec, provenance, job_name, run.run_id)),
                **_image_tags(spec, report), **(code_tags(code) if code else {})}
        if aws is None:
            shared = tracking_uri.local_store_paths(run.tracking_uri, client.experiment_artifact_dir(run))
            record = partial(_record, run, spec, provenance, None, staging, tags, code_file)
            outcome = execute(spec.mode, request, spec.work_dir, shared, interactive, interrupt_after, record)
            outcome.save(spec.work_dir / job_name / OUTCOME_FILE)  # `smlaunch status` can settle it later
        else:
            check_request(request)
            uploaded = aws.upload(staged.uploads())
            submitted_at = time.time()
            job_arn = aws.create_training_job(request)
    except JobInterrupted as stopped:  # the hosts are stopped; the run ends KILLED, the launcher exits 128+N
        stopped.outcome.save(spec.work_dir / job_name / OUTCOME_FILE)
        guarded(f"record the end of run {run.run_id}", settle, run, stopped.outcome)
        raise stopped.cause from None
    except BaseException as error:
        _end_failed_launch(run, error)
        if aws is not None:
            aws.delete_objects(uploaded)
        raise
    if aws is None:  # the job has ended; if the tracker cannot hear it now, the error says how to settle later
        return LaunchResult(run, job_name, settle(run, outcome), outcome, request)
    _record(run, spec, provenance, aws, staging, tags, code_file)
    return _follow_cloud(aws, run, job_name, job_arn, request, wait, poll_seconds, spec, provenance, submitted_at)


def _record(run: TrackedRun, spec: LaunchSpec, provenance: Provenance, aws: Aws | None, staging: Path,
            tags: dict[str, str], code_file: Path | None) -> None:
    """Configs, code, inputs and tags on the run, once the job is started (so it is not kept waiting): a
    failure here only warns, the job runs anyway."""
    guarded("record the job's configs in MLflow (the job runs anyway)",
            lambda: record_launch(run, spec, provenance, staging, tags, code_file, _s3_prints(spec, aws)))
    if spec.is_local:
        guarded("settle runs whose local job is gone", settle_orphans, spec.tracking_uri)


def _s3_prints(spec: LaunchSpec, aws: Aws | None) -> dict[str, Fingerprint]:
    """The S3 channels' fingerprints, from their listings (what the record keeps of the data)."""
    if aws is None:
        return {}
    return {c.name: fingerprint_listing(c.name, c.uri, aws.list_objects(c.uri, limit=None))
            for c in spec.channels if c.uri.startswith("s3://")}


def _end_failed_launch(run: TrackedRun, error: BaseException) -> None:
    """End the run once, KILLED for an interruption and FAILED otherwise, with the reason; never raises."""
    status, reason = ("KILLED", interruption(error).reason) if isinstance(error, KeyboardInterrupt) else \
        ("FAILED", f"launch failed: {error}")
    guarded(f"record the end of run {run.run_id}", client.end_run, run, status, reason)


def _image_tags(spec: LaunchSpec, report: PreflightReport) -> dict[str, str]:
    if report.image:
        return image_tags(spec.job.image, report.image.uri, report.image.digest, region=report.region)
    return image_tags(spec.job.image, image_id=report.local_image_id, region=report.region)


def _follow_cloud(aws: Aws, run: TrackedRun, job_name: str, job_arn: str, request: dict[str, Any], wait: bool,
                  poll_seconds: float | None, spec: LaunchSpec, provenance: Provenance,
                  submitted_at: float) -> LaunchResult:
    from launcher.executors import sagemaker

    region = aws.region or ""
    links = {"job_arn": job_arn, "region": region, "console_url": sagemaker.console_url(region, job_name),
             "logs_url": sagemaker.logs_url(region, job_name)}
    try:
        shown = {"SageMaker job": links["console_url"], "Logs": links["logs_url"],
                 "Configs": request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]}
        client.set_tags(run, {**{f"launcher.{key}": value for key, value in links.items()},
                              "mlflow.note.content": describe_run(spec, provenance, job_name, run.run_id, shown)})
    except Exception as error:  # the job runs anyway; a missing tag must not fail the launch
        print(f"warning: could not tag the run with the job's links: {error}", file=sys.stderr)
    outcome = JobOutcome(job_name, IN_PROGRESS)
    if wait:
        try:
            outcome = sagemaker.follow(aws, job_name, poll_seconds or sagemaker.POLL_SECONDS)
        except KeyboardInterrupt:
            print(f"stopped following; the job goes on (smlaunch status {run.run_id})", file=sys.stderr)
    status = settle(run, outcome) if outcome.status != IN_PROGRESS else client.run_status(run)
    return LaunchResult(run, job_name, status, outcome, request, {**links, "submitted_at": f"{submitted_at:.3f}"})
