"""Pre-flight checks: everything a launch needs from the outside world, checked before any side effect.

Each check reads only (STS, HeadBucket, ListObjectsV2, ECR DescribeImages, an HTTP GET of the tracking server's
/health). All run, so one report names every problem; `--dry-run` prints it.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from launcher.cloud.aws import Aws, AwsError, ResolvedImage, split_s3_uri
from launcher.config.spec import LaunchSpec
from launcher.config.tracking_uri import is_managed_mlflow, is_server, redact
from launcher.errors import LauncherError
from launcher.executors import docker
from launcher.preflight import image_deps

EXIT_PREFLIGHT = 3
HEALTH_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Check:
    """One pre-flight result."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class PreflightReport:
    """All check results, plus what the checks found that the launch uses (the image pinned by digest)."""

    checks: list[Check] = field(default_factory=list)
    image: ResolvedImage | None = None
    region: str | None = None
    local_image_id: str | None = None
    secret_refs: dict[str, str] = field(default_factory=dict)  # variable → ARN[#field], for the request

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, probe: Callable[[], str]) -> None:
        """Run `probe`; its return value is the detail of a passed check, an error the detail of a failed one."""
        try:
            self.checks.append(Check(name, True, probe()))
        except (LauncherError, OSError) as error:
            self.checks.append(Check(name, False, str(error)))


class PreflightError(LauncherError):
    """At least one pre-flight check failed; nothing was created."""

    exit_code = EXIT_PREFLIGHT

    def __init__(self, report: PreflightReport) -> None:
        super().__init__(report)
        self.report = report

    def __str__(self) -> str:
        failed = [check for check in self.report.checks if not check.ok]
        lines = [f"pre-flight failed ({len(failed)} of {len(self.report.checks)} checks); nothing was created:"]
        return "\n".join(lines + [f"  {check}" for check in self.report.checks])


def check_tracking_server(uri: str) -> str:
    """GET <server>/health; an MLflow server answers 200 OK."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise LauncherError(f"{redact(url)} answered HTTP {error.code}: is this an MLflow server?") from error
    except (urllib.error.URLError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise LauncherError(f"cannot reach {redact(uri)} from this machine ({reason}): start it or fix "
                            "tracking.uri") from error
    return f"{redact(uri)} answers ({status})"


def run_preflight(spec: LaunchSpec, aws: Aws | None) -> PreflightReport:
    """Every check for `spec`'s mode (`aws` is needed for 'sagemaker'); nothing is created."""
    report = PreflightReport()
    uri = spec.tracking_uri
    if is_server(uri):
        report.add("tracking server", lambda: check_tracking_server(uri))
    if spec.secrets:
        _check_secrets(spec, aws, report)
    if spec.mode == "local-container":
        report.add("docker engine", docker.engine_version)
        if report.checks[-1].ok:
            report.add("image", partial(_local_image, spec.job.image or "", report))
        if report.local_image_id:
            label = docker.image_label(spec.job.image or "", image_deps.LABEL)
            report.add("image dependencies", lambda: image_deps.compare(label, "rebuild it: make build"))
    if spec.mode != "sagemaker" or aws is None:
        return report
    report.region = aws.region
    report.add("region", lambda: _region(aws))
    report.add("credentials", lambda: "account {account} as {arn}".format(**aws.identity()))
    if not all(check.ok for check in report.checks if check.name in ("region", "credentials")):
        return report  # every other check needs both
    if is_managed_mlflow(uri):
        report.add("tracking server", lambda: _managed_mlflow(aws, uri))
    for channel in spec.channels:
        report.add(f"channel {channel.name}", partial(_has_objects, aws, channel.uri))
    buckets = {"output bucket": spec.job.output_path, "config bucket": spec.job.config_prefix,
               "checkpoint bucket": spec.job.checkpoint_s3_uri}
    for name, location in buckets.items():
        if location:
            report.add(name, partial(_bucket, aws, location))
    report.add("image", lambda: _image(aws, spec.job.image or "", report))
    if report.image is not None:
        recorded = image_deps.recorded_in_tags(report.image.tags)
        report.add("image dependencies", lambda: image_deps.compare(recorded, "push a new image: make push"))
    return report


def _check_secrets(spec: LaunchSpec, aws: Aws | None, report: PreflightReport) -> None:
    """Each secret exists (DescribeSecret, so its value is never read here); names become full ARNs."""
    for name, reference in spec.secrets.items():
        secret, _, field_name = reference.partition("#")
        region = secret.split(":")[3] if secret.startswith("arn:") else spec.job.region
        door = aws if aws is not None and (region is None or region == aws.region) else Aws(region)

        def resolve(name: str = name, secret: str = secret, field_name: str = field_name, door: Aws = door) -> str:
            arn = door.secret_arn(secret)
            report.secret_refs[name] = arn + (f"#{field_name}" if field_name else "")
            return f"{name} ← {arn}"

        report.add(f"secret {name}", resolve)


def _local_image(image: str, report: PreflightReport) -> str:
    report.local_image_id = docker.image_id(image)
    if report.local_image_id is None:
        raise LauncherError(f"image {image} is not in the local Docker engine: build it (make build) or pull it")
    return f"{image} is available locally ({report.local_image_id[:19]})"


def _region(aws: Aws) -> str:
    if not aws.region:
        raise LauncherError("no AWS region: set sagemaker.region in the config or AWS_DEFAULT_REGION")
    return aws.region


def _managed_mlflow(aws: Aws, arn: str) -> str:
    name = arn.rsplit("/", 1)[-1]
    status = aws.describe_mlflow_tracking_server(name).get("TrackingServerStatus", "unknown")
    if status not in ("Created", "Updated", "Started"):
        raise AwsError(f"managed MLflow server {name} is {status}: start it first")
    return f"managed MLflow server {name} is {status}"


def _has_objects(aws: Aws, uri: str) -> str:
    if not aws.prefix_has_objects(uri):
        raise AwsError(f"no objects under {uri}: upload the data there first (or fix the URI)")
    return f"{uri} has data"


def _bucket(aws: Aws, uri: str) -> str:
    bucket, _ = split_s3_uri(uri)
    if not aws.bucket_exists(bucket):
        raise AwsError(f"bucket {bucket} does not exist (or is in another account): create it or fix the URI")
    return f"bucket {bucket} exists"


def _image(aws: Aws, image: str, report: PreflightReport) -> str:
    report.image = aws.resolve_image(image)
    return f"{image} → {report.image.uri}"
