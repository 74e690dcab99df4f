"""Pre-flight: everything a launch needs from the outside world, checked before any side effect.

Every check reads only (STS, S3 List/Head/GetBucketLocation, ECR Describe/BatchGetImage, IAM GetRole and
SimulatePrincipalPolicy, EC2 Describe*, Secrets Manager DescribeSecret, HTTP reads of the tracking server).
All run, so one report names every problem (FAIL), and every caveat (WARN); `--dry-run` prints it; exit 3
when anything failed, and then nothing was created.
"""

from __future__ import annotations

from functools import partial

from launcher.cloud.aws import Aws, AwsError
from launcher.config.spec import LaunchSpec
from launcher.config.tracking_uri import is_managed_mlflow, is_server
from launcher.core.errors import LauncherError
from launcher.executors import docker
from launcher.preflight import data, image, image_deps, instance, network, role, task_imports, tracking
from launcher.preflight.report import EXIT_PREFLIGHT, Caveat, Check, PreflightError, PreflightReport
from train.contract import secret_refs

__all__ = ["EXIT_PREFLIGHT", "Check", "PreflightError", "PreflightReport", "run_preflight"]


def run_preflight(spec: LaunchSpec, aws: Aws | None, check_tracking: bool = True) -> PreflightReport:
    """Every check for `spec`'s mode (`aws` is needed for 'sagemaker'); nothing is created.

    `check_tracking=False` leaves the tracking server out (a rehearsal records to a local store instead).
    """
    report = PreflightReport()
    if spec.secrets:
        _check_secrets(spec, aws, report)
    if spec.mode != "sagemaker" or aws is None:
        if check_tracking:
            _check_server_and_experiment(spec, report)
        for field, channel, name in spec.channel_files:
            report.add(field, partial(data.check_file, Aws(), spec, field, channel, name))
        if spec.mode == "local-container":
            _check_local_image(spec, report)
        if check_tracking and is_server(spec.tracking_uri) and report.passed("tracking server"):
            report.add("tracking credentials", partial(tracking.check_job_credentials, spec))
        return report
    report.region = aws.region
    report.add("region", lambda: _region(aws))
    identity: dict[str, str] = {}
    report.add("credentials", lambda: _identity(aws, identity))
    if not report.passed("region", "credentials"):
        if check_tracking:
            _check_server_and_experiment(spec, report)
        return report  # every other AWS check needs both
    region, account = aws.region or "", identity["account"]
    _check_data(spec, aws, report, region)
    report.add("instance", partial(instance.check_instance, aws, spec))
    if spec.job.job_name:
        report.add("job name", partial(_job_name_free, aws, spec.job.job_name))
    _check_image(spec, aws, report, region)
    if spec.job.role_arn and report.add("role", partial(role.check_role, aws, spec, account)):
        report.add("role permissions", partial(role.check_permissions, aws, spec, report, account))
    if spec.job.subnets:
        report.add("vpc", partial(network.check_vpc, aws, spec, region))
    if spec.job.spot:
        report.add("spot", partial(_spot, spec))
    if spec.job.checkpoint_s3_uri:
        report.add("checkpoints", partial(data.check_checkpoints, aws, spec))
    if check_tracking:  # last: these wait for mlflow's import, which the AWS checks above overlap
        _check_server_and_experiment(spec, report)
        _check_job_side_tracking(spec, aws, report)
    return report


def _check_server_and_experiment(spec: LaunchSpec, report: PreflightReport) -> None:
    """The tracking server answers (through MLflow's own HTTP layer) and the run's experiment can take runs."""
    if is_server(spec.tracking_uri):
        report.add("tracking server", partial(tracking.check_health, spec.tracking_uri))
    if (not is_server(spec.tracking_uri) or report.passed("tracking server")) \
            and not is_managed_mlflow(spec.tracking_uri):
        report.add("experiment", partial(tracking.check_experiment, spec))


def _check_job_side_tracking(spec: LaunchSpec, aws: Aws, report: PreflightReport) -> None:
    uri = spec.tracking_uri
    if is_managed_mlflow(uri):
        report.add("tracking server", lambda: _managed_mlflow(aws, uri))
    elif is_server(uri):
        if not spec.tracking_assumed_reachable:
            report.add("tracking route", partial(tracking.check_route, uri, bool(spec.job.subnets)))
        if report.passed("tracking server"):
            report.add("tracking credentials", partial(tracking.check_job_credentials, spec))


def _check_data(spec: LaunchSpec, aws: Aws, report: PreflightReport, region: str) -> None:
    for channel in spec.channels:
        report.add(f"channel {channel.name}", partial(data.check_channel, aws, channel))
    for field, channel_name, name in spec.channel_files:
        report.add(field, partial(data.check_file, aws, spec, field, channel_name, name))
    purposes = {"output": "output bucket", "configs": "config bucket", "checkpoints": "checkpoint bucket"}
    for bucket, uses in data.buckets(spec).items():
        name = next((purposes[use] for use in uses if use in purposes), f"bucket {bucket}")
        report.add(name, partial(data.check_bucket_region, aws, bucket, region, ", ".join(uses)))


def _check_image(spec: LaunchSpec, aws: Aws, report: PreflightReport, region: str) -> None:
    if not report.add("image region", partial(image.check_region, spec.job.image or "", region)):
        return
    if report.add("image", partial(image.check_image, aws, spec, report)) and report.image is not None:
        report.add("image architecture", partial(image.check_architecture, aws, spec, report))
        recorded = image_deps.recorded_in_tags(report.image.tags)
        if report.add("image dependencies", lambda: image_deps.compare(recorded, "push a new image: make push")):
            report.add("task imports", partial(task_imports.check_task_imports, spec))


def _check_local_image(spec: LaunchSpec, report: PreflightReport) -> None:
    if not report.add("docker engine", docker.engine_version):
        return
    if report.add("image", partial(_local_image, spec.job.image or "", report)):
        label = docker.image_label(spec.job.image or "", image_deps.LABEL)
        if report.add("image dependencies", lambda: image_deps.compare(label, "rebuild it: make build")):
            report.add("task imports", partial(task_imports.check_task_imports, spec))


def _check_secrets(spec: LaunchSpec, aws: Aws | None, report: PreflightReport) -> None:
    """Each secret exists, asked in the region its ARN names (DescribeSecret: metadata only, its value is never
    read here); names become full ARNs. The field a `#field` picks is checked by the job, which reads the value."""
    doors: dict[str | None, Aws] = {}
    for name, text in spec.secrets.items():
        reference = secret_refs.parse(text)  # the config was validated: it parses
        region = reference.region or spec.job.region or (aws.region if aws is not None else None)
        if region not in doors:
            doors[region] = aws if aws is not None and region == aws.region else Aws(region)

        def resolve(name: str = name, reference: secret_refs.SecretReference = reference,
                    door: Aws = doors[region]) -> str:
            arn = door.secret_arn(reference.secret)
            report.secret_refs[name] = str(reference.pinned(arn))
            return f"{name} ← {arn}"

        report.add(f"secret {name}", resolve)


def _job_name_free(aws: Aws, name: str) -> str:
    if aws.training_job_exists(name):
        raise AwsError(f"a training job named {name} exists already (names are unique, forever, per account and "
                       "region): choose another sagemaker.job_name, or leave it out and smlaunch names the job")
    return f"{name} is free"


def _spot(spec: LaunchSpec) -> str:
    """Spot is worth it only if an interrupted job can resume."""
    if not spec.job.checkpoint_s3_uri:
        raise Caveat("spot without checkpoint_s3_uri: an interrupted job restarts from the beginning; set it")
    module = spec.task.module_file if spec.task else None
    if module is not None and "checkpoints" not in module.read_text(encoding="utf-8", errors="replace"):
        raise Caveat(f"spot, but {module.name} never uses ctx.checkpoints: an interrupted job restarts from the "
                     "beginning (see train/digits/task.py for how to checkpoint)")
    return f"checkpoints sync with {spec.job.checkpoint_s3_uri}"


def _local_image(image_name: str, report: PreflightReport) -> str:
    report.local_image_id = docker.image_id(image_name)
    if report.local_image_id is None:
        raise LauncherError(f"image {image_name} is not in the local Docker engine: build it (make build) or pull it")
    return f"{image_name} is available locally ({report.local_image_id[:19]})"


def _region(aws: Aws) -> str:
    if not aws.region:
        raise LauncherError("no AWS region: set sagemaker.region in the config or AWS_DEFAULT_REGION")
    return aws.region


def _identity(aws: Aws, into: dict[str, str]) -> str:
    into.update(aws.identity())
    return "account {account} as {arn}".format(**into)


def _managed_mlflow(aws: Aws, arn: str) -> str:
    name = arn.rsplit("/", 1)[-1]
    status = aws.describe_mlflow_tracking_server(name).get("TrackingServerStatus", "unknown")
    if status not in ("Created", "Updated", "Started"):
        raise AwsError(f"managed MLflow server {name} is {status}: start it first")
    return f"managed MLflow server {name} is {status}"
