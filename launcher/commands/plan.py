"""`smlaunch run --dry-run`: the pre-flight results and the exact request a launch would send; creates nothing.

The request depends on IDs only the run creates, so those are placeholders (filled in, it is exactly the
request that is then sent: tested against what the server received).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from launcher.cloud.aws import Aws, check_request
from launcher.config.spec import LaunchSpec
from launcher.job.request import RunIds, build_request, config_location, staged_location
from launcher.preflight.checks import PreflightReport, run_preflight
from train.contract.paths import CODE_CHANNEL

PLACEHOLDERS = {"run_id": "<run-id>", "experiment_id": "<experiment-id>", "job_name": "<job-name>"}


@dataclass(frozen=True)
class DryRun:
    """The request that would be sent, and the pre-flight results."""

    request: dict[str, Any]
    preflight: PreflightReport

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "preflight_ok": self.preflight.ok,
            "preflight": [{"check": c.name, "ok": c.ok, "warning": c.warning, "detail": c.detail}
                          for c in self.preflight.checks],
            "placeholders": PLACEHOLDERS,
            "request": self.request,
        }


def plan(spec: LaunchSpec) -> DryRun:
    """Pre-flight, then the request with placeholders for what only the run creates."""
    aws = Aws(spec.job.region) if spec.mode == "sagemaker" else None
    report = run_preflight(spec, aws)
    ids = RunIds(PLACEHOLDERS["run_id"], PLACEHOLDERS["experiment_id"], spec.tracking_uri)
    job_name = spec.job.job_name or PLACEHOLDERS["job_name"]
    image = report.image.uri if report.image else None
    code_uri = staged_location(spec, ids.run_id, job_name, CODE_CHANNEL) if spec.code_dirs else None
    request = build_request(spec, ids, job_name, config_location(spec, ids.run_id, job_name), image,
                            report.secret_refs or None, code_uri)
    if spec.mode == "sagemaker":
        check_request(request)
    return DryRun(request, report)
