"""`smlaunch rehearse CONFIG`: the cloud config, run on this machine as it is, before paying for it.

1. SageMaker's pre-flight (everything but the tracking server, which the rehearsal does not use).
2. The S3 channels are downloaded into a cache keyed by ETag (`--sample N`: the first N objects per channel);
   `--channel NAME=DIR` stands a local directory in for a channel instead. With a stand-in for every channel
   the rehearsal needs no AWS at all: pre-flight's AWS checks are then not run, and the verdict says so.
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
    offline: bool = False  # every channel stood in locally: AWS was not asked

    @property
    def ran(self) -> bool:
        return self.launched is not None and self.launched["status"] == "FINISHED"

    @property
    def safe(self) -> bool:
        """Safe to submit: the job ran, and pre-flight asked AWS and found nothing wrong."""
        return self.preflight.ok and self.ran and not self.offline

    def as_dict(self) -> dict[str, Any]:
        return {"rehearsal": True, "config": self.config, "mode": self.mode, "mode_reason": self.mode_reason,
                "preflight_ok": self.preflight.ok, "preflight": [str(check) for check in self.preflight.checks],
                "run": self.launched, "safe_to_submit": self.safe, "aws_checked": not self.offline,
                "verdict": self.verdict}


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


def stand_ins(items: Sequence[str], cwd: Path, channels: Sequence[str]) -> dict[str, Path]:
    """{channel: local directory} from `--channel NAME=DIR` items; a usage error says what is wrong."""
    found = {}
    for item in items:
        name, sep, directory = item.partition("=")
        if not sep or name not in channels:
            raise ConfigError([problem(Location(f"--channel {item}"), (), f"expected NAME=DIR with NAME one of the "
                                       f"config's channels ({', '.join(channels) or 'none'})")])
        path = (cwd / directory).resolve()
        if not path.is_dir():
            raise ConfigError([problem(Location(f"--channel {item}"), (), f"directory {path} does not exist")])
        found[name] = path
    return found


def rehearse(config: Path, overrides: Sequence[str], cwd: Path, sample: int | None, forced_mode: str | None,
             tracking_uri: str | None, channel_items: Sequence[str] = ()) -> Rehearsal:
    spec = load_launch_spec(config, tuple(overrides), cwd=cwd)
    print_warnings(spec)
    if spec.mode != "sagemaker":
        raise ConfigError([problem(Location(str(config)), ("mode",), "rehearse runs a SageMaker config (mode: "
                                   "sagemaker) on this machine; a local config runs with smlaunch run")])
    local = stand_ins(channel_items, cwd, [channel.name for channel in spec.channels])
    offline = all(channel.name in local for channel in spec.channels)
    aws = None if offline else Aws(spec.job.region)
    report = run_preflight(spec, aws, check_tracking=False) if aws is not None else PreflightReport()
    if offline:
        print("  pre-flight: AWS not asked (every channel stands in locally): run `smlaunch run "
              f"{config} --dry-run` with AWS credentials before submitting", file=sys.stderr)
    for check in report.checks:
        print(f"  {check}", file=sys.stderr)
    mode, reason = choose_mode(spec, forced_mode)
    print(f"rehearsal mode: {mode} — {reason}", file=sys.stderr)
    settings = [f"mode={mode}", f"tracking.uri={tracking_uri or REHEARSAL_STORE}",
                f"sagemaker.output_path={spec.work_dir.parent / 'rehearsals' / 'outputs'}"]
    for channel in spec.channels:
        if channel.name in local:
            print(f"channel {channel.name}: {local[channel.name]} stands in for {channel.uri}", file=sys.stderr)
            settings.append(f"channels.{channel.name}.uri={local[channel.name]}")
            continue
        assert aws is not None
        cached = fetch_channel(aws, channel.uri, spec.work_dir.parent / "rehearsals" / "channels" / channel.name,
                               sample)
        print(f"channel {channel.name}: {cached.objects} objects ({cached.downloaded} downloaded, "
              f"{cached.total_bytes / 2**20:.1f} MiB) in {cached.directory}", file=sys.stderr)
        settings.append(f"channels.{channel.name}.uri={cached.directory}")
    local_spec = load_launch_spec(config, (*overrides, *settings), cwd=cwd)
    try:
        launched = launch(local_spec, cwd, extra_tags={**REHEARSAL_TAGS, "launcher.rehearsal_of": str(config)})
    except LauncherError as error:
        return Rehearsal(str(config), mode, reason, report, None, f"fix before submitting: {error}", offline)
    result = launched.as_dict()
    verdict = _verdict(config, report, result, offline)
    return Rehearsal(str(config), mode, reason, report, result, verdict, offline)


def _verdict(config: Path, report: PreflightReport, result: dict[str, Any], offline: bool = False) -> str:
    """One line: the cause first (the job's own failure reason, or the failed checks), or that it is safe."""
    problems = [str(check) for check in report.checks if not check.ok]
    if result["status"] != "FINISHED":
        problems.insert(0, f"the job {result['status']}: {result['failure_reason']}")
    if problems:
        return "fix before submitting: " + "; ".join(problems)
    if offline:
        return f"the job runs; before submitting, check the AWS side: smlaunch run {config} --dry-run"
    return f"safe to submit: smlaunch run {config}"
