"""`smlaunch rehearse CONFIG`: the cloud config, run on this machine as it is, before paying for it.

1. SageMaker's pre-flight (everything but the tracking server, which the rehearsal does not use).
2. The S3 channels are downloaded into a cache keyed by ETag (`--sample N`: the first N objects per channel).
3. The same config runs locally with only what must differ overridden: the mode (the image under Docker when
   the engine and the image are there, else a local process — said plainly), the channels (the cached copies),
   the output path (a local directory; never a folder named `s3:`) and the tracking store (a local sqlite store,
   the run tagged as a rehearsal: never silently the team's server). Hosts get the job's environment only.
4. One line says whether it is safe to submit, or what to fix.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.cloud.aws import Aws
from launcher.cloud.channel_cache import fetch_channel
from launcher.commands.launch import launch
from launcher.commands.options import print_warnings
from launcher.config.loader import load_launch_spec
from launcher.config.spec import LaunchSpec
from launcher.config.yaml_source import Location, problem
from launcher.core.errors import ConfigError, LauncherError
from launcher.executors import docker
from launcher.preflight.checks import PreflightReport, run_preflight

REHEARSAL_STORE = "sqlite:///.smlaunch/rehearsal.db"
REHEARSAL_TAGS = {"launcher.rehearsal": "true"}


@dataclass(frozen=True)
class Rehearsal:
    config: str
    mode: str
    mode_reason: str
    preflight: PreflightReport
    launched: dict[str, Any] | None
    verdict: str

    @property
    def safe(self) -> bool:
        return self.preflight.ok and self.launched is not None and self.launched["status"] == "FINISHED"

    def as_dict(self) -> dict[str, Any]:
        return {"rehearsal": True, "config": self.config, "mode": self.mode, "mode_reason": self.mode_reason,
                "preflight_ok": self.preflight.ok, "preflight": [str(check) for check in self.preflight.checks],
                "run": self.launched, "safe_to_submit": self.safe, "verdict": self.verdict}


def choose_mode(spec: LaunchSpec, forced: str | None) -> tuple[str, str]:
    """local-container when the engine answers and has the image; else local-process, saying why."""
    if forced:
        return forced, "as asked (--mode)"
    image = spec.job.image or ""
    try:
        docker.engine_version()
    except LauncherError as error:
        return "local-process", f"no Docker engine ({error}); imports are the laptop's, not the image's"
    if docker.image_id(image) is None:
        return "local-process", (f"{image} is not in the local engine (make build, and docker tag it as {image}); "
                                 "imports are the laptop's, not the image's")
    return "local-container", f"in the image {image}, as SageMaker will run it"


def rehearse(config: Path, overrides: Sequence[str], cwd: Path, sample: int | None, forced_mode: str | None,
             tracking_uri: str | None) -> Rehearsal:
    spec = load_launch_spec(config, tuple(overrides), cwd=cwd)
    print_warnings(spec)
    if spec.mode != "sagemaker":
        raise ConfigError([problem(Location(str(config)), ("mode",), "rehearse runs a SageMaker config (mode: "
                                   "sagemaker) on this machine; a local config runs with smlaunch run")])
    aws = Aws(spec.job.region)
    report = run_preflight(spec, aws, check_tracking=False)
    for check in report.checks:
        print(f"  {check}", file=sys.stderr)
    mode, reason = choose_mode(spec, forced_mode)
    print(f"rehearsal mode: {mode} — {reason}", file=sys.stderr)
    local = [f"mode={mode}", f"tracking.uri={tracking_uri or REHEARSAL_STORE}",
             f"sagemaker.output_path={spec.work_dir.parent / 'rehearsals' / 'outputs'}"]
    for channel in spec.channels:
        cached = fetch_channel(aws, channel.uri, spec.work_dir.parent / "rehearsals" / "channels" / channel.name,
                               sample)
        print(f"channel {channel.name}: {cached.objects} objects ({cached.downloaded} downloaded, "
              f"{cached.total_bytes / 2**20:.1f} MiB) in {cached.directory}", file=sys.stderr)
        local.append(f"channels.{channel.name}.uri={cached.directory}")
    local_spec = load_launch_spec(config, (*overrides, *local), cwd=cwd)
    try:
        launched = launch(local_spec, cwd, extra_tags={**REHEARSAL_TAGS, "launcher.rehearsal_of": str(config)})
    except LauncherError as error:
        return Rehearsal(str(config), mode, reason, report, None, f"fix before submitting: {error}")
    result = launched.as_dict()
    verdict = _verdict(config, report, result)
    return Rehearsal(str(config), mode, reason, report, result, verdict)


def _verdict(config: Path, report: PreflightReport, result: dict[str, Any]) -> str:
    problems = [str(check) for check in report.checks if not check.ok]
    if result["status"] != "FINISHED":
        problems.insert(0, f"the job {result['status']}: {result['failure_reason']}")
    if problems:
        return "fix before submitting: " + "; ".join(problems)
    return f"safe to submit: smlaunch run {config}"
