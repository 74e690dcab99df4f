"""The launcher's one door to AWS (boto3, imported lazily): S3, ECR, STS, IAM, EC2, SageMaker, Secrets Manager
and CloudWatch Logs calls. No other module of the launcher makes a boto3 client.

Every method maps botocore's errors to `AwsError` with a sentence a user can act on, and tells "not there"
(NoSuchKey, 404) apart from every other error, which is reported, never taken for an absence. The endpoint
comes from botocore's own configuration, so `AWS_ENDPOINT_URL` points everything at a local moto server in
tests.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.core.errors import ExecutionError

if TYPE_CHECKING:
    import boto3

ECR_IMAGE = re.compile(
    r"^(?P<registry>(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?)/"
    r"(?P<repository>[a-z0-9._/-]+)(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"


class AwsError(ExecutionError):
    """An AWS call failed; the message says what to check."""


@dataclass(frozen=True)
class ResolvedImage:
    """An ECR image pinned by digest, with the tag it was asked for (if any)."""

    uri: str  # repository@sha256:...
    tag: str | None
    digest: str
    tags: tuple[str, ...] = ()  # every tag of that image (a deps-<hash> tag records its dependencies)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix → ("bucket", "some/prefix")."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


NOT_THERE = ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


def _not_there(error: Exception) -> bool:
    """The answer says the object (or bucket) does not exist: not a refusal, not a throttle, not an outage."""
    return _code(error) in NOT_THERE


@cache
def service_model(service: str = "sagemaker") -> Any:
    """botocore's service model (the API's shapes), loaded without credentials or a client (≈0.1 s, once)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def check_request(request: dict[str, Any], operation: str = "CreateTrainingJob") -> None:
    """Validate a SageMaker request (CreateTrainingJob, CreateHyperParameterTuningJob) against botocore's own
    service model (types, required members, lengths, minimums), before it is sent or printed by --dry-run."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(request, service_model("sagemaker").operation_model(operation).input_shape)
    if report.has_errors():
        raise AwsError(f"the request does not match SageMaker's API:\n{report.generate_report()}")


class Aws:
    """boto3 clients for one region, created on first use."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}

    @property
    def session(self) -> boto3.Session:
        """The boto3 session, made on first use; a broken AWS profile is an AwsError, not a traceback."""
        if self._session is None:
            import boto3
            from botocore.exceptions import BotoCoreError

            try:
                self._session = boto3.Session(region_name=self._region)
            except BotoCoreError as error:
                raise AwsError(f"cannot set up AWS: {error} (check AWS_PROFILE and ~/.aws/config)") from error
        return self._session

    @property
    def region(self) -> str | None:
        region: str | None = self.session.region_name
        return region

    def client(self, service: str) -> Any:
        """The boto3 client for `service` (inside this module; tests put botocore's Stubber on it)."""
        if service not in self._clients:
            from botocore.config import Config

            config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60)
            self._clients[service] = self.session.client(service, config=config)
        return self._clients[service]

    def identity(self) -> dict[str, str]:
        """The caller's account and ARN; raises AwsError when no credentials can be found."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if self.session.get_credentials() is None:
            raise AwsError("no AWS credentials found: run `aws configure`, set AWS_PROFILE, or export "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        try:
            found = self.client("sts").get_caller_identity()
        except (ClientError, NoCredentialsError, BotoCoreError) as error:
            raise AwsError(f"AWS credentials were refused ({_code(error)}): check your profile or keys") from error
        return {"account": found["Account"], "arn": found["Arn"]}

    # S3 -----------------------------------------------------------------------------------------------------
    def bucket_exists(self, bucket: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client("s3").head_bucket(Bucket=bucket)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise AwsError(f"cannot access bucket {bucket} ({_code(error)})") from error
        return True

    def prefix_has_objects(self, uri: str) -> bool:
        from botocore.exceptions import ClientError

        bucket, prefix = split_s3_uri(uri)
        try:
            listed = self.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except ClientError as error:
            if _code(error) == "NoSuchBucket":
                return False
            raise AwsError(f"cannot list {uri} ({_code(error)})") from error
        return int(listed.get("KeyCount", 0)) > 0

    def bucket_region(self, bucket: str) -> str:
        """The region a bucket lives in (GetBucketLocation: None means us-east-1, EU the old eu-west-1)."""
        if not self.bucket_exists(bucket):
            raise AwsError(f"bucket {bucket} does not exist (or is in another account): create it or fix the URI")
        found = self.call("s3", "get_bucket_location", f"cannot locate bucket {bucket}", Bucket=bucket)
        location = found.get("LocationConstraint") or "us-east-1"
        return "eu-west-1" if location == "EU" else str(location)

    def head_object(self, uri: str) -> dict[str, Any] | None:
        """HeadObject of an s3:// URI, or None when there is no such object."""
        from botocore.exceptions import ClientError

        bucket, key = split_s3_uri(uri)
        try:
            answer: dict[str, Any] = self.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _not_there(error):
                return None
            raise AwsError(f"cannot read {uri} ({_code(error)})") from error
        return answer

    def read_object(self, uri: str) -> Any | None:
        """A stream of an object's body, or None when there is no such object; any other answer (AccessDenied,
        a throttle, an outage) is an AwsError."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3_uri(uri)
        try:
            return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as error:
            if _not_there(error):
                return None
            raise AwsError(f"cannot read {uri} ({_code(error)})") from error
        except BotoCoreError as error:
            raise AwsError(f"cannot read {uri} ({_code(error)})") from error

    def download(self, uri: str, path: Path) -> None:
        """Download one object to `path`."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3_uri(uri)
        try:
            self.client("s3").download_file(bucket, key, str(path))
        except (ClientError, BotoCoreError) as error:
            raise AwsError(f"cannot download {uri} ({_code(error)})") from error

    def list_objects(self, uri: str, limit: int | None = 1000) -> list[dict[str, Any]]:
        """Up to `limit` (None: all) objects whose key starts with the URI's key (S3's own prefix semantics)."""
        bucket, prefix = split_s3_uri(uri)
        found: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while limit is None or len(found) < limit:
            page = self.call("s3", "list_objects_v2", f"cannot list {uri}", Bucket=bucket, Prefix=prefix,
                             MaxKeys=1000 if limit is None else min(1000, limit - len(found)), **token)
            found += page.get("Contents", [])
            if not page.get("IsTruncated"):
                break
            token = {"ContinuationToken": page["NextContinuationToken"]}
        return found

    def upload(self, files: list[tuple[Path, str]]) -> list[str]:
        """Upload (file, s3 URI) pairs, all or nothing; return the object URIs.

        Configs and code are small: one PutObject each beats the managed transfer's thread pool start-up.
        """
        uris: list[str] = []
        for path, uri in files:
            bucket, key = split_s3_uri(uri)
            try:
                self.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            except Exception as error:
                self.delete_objects(uris)  # all or nothing: no half-uploaded config set is left behind
                raise AwsError(f"cannot upload {path.name} to s3://{bucket}/{key} ({_code(error)}): nothing was "
                               "left on S3") from error
            uris.append(f"s3://{bucket}/{key}")
        return uris

    def delete_objects(self, uris: list[str]) -> None:
        """Best-effort removal of objects this launch uploaded (used when the launch fails)."""
        for uri in uris:
            bucket, key = split_s3_uri(uri)
            with contextlib.suppress(Exception):  # cleanup must not hide the original failure
                self.client("s3").delete_object(Bucket=bucket, Key=key)

    # ECR ----------------------------------------------------------------------------------------------------
    def resolve_image(self, image: str) -> ResolvedImage:
        """Pin an ECR image to its digest; raises AwsError when the repository or tag does not exist."""
        from botocore.exceptions import ClientError

        match = ECR_IMAGE.match(image)
        if not match:
            raise AwsError(f"{image} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
        tag, digest = match["tag"], match["digest"]
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
        try:
            found = self.client("ecr").describe_images(
                registryId=match["account"], repositoryName=match["repository"], imageIds=[image_id]
            )
        except ClientError as error:
            if _code(error) in ("RepositoryNotFoundException", "ImageNotFoundException"):
                what = "repository" if _code(error) == "RepositoryNotFoundException" else "image"
                raise AwsError(f"ECR {what} not found for {image}: build and push it first (make push)") from error
            raise AwsError(f"cannot look up {image} in ECR ({_code(error)})") from error
        detail = found["imageDetails"][0]
        resolved = detail["imageDigest"]
        return ResolvedImage(f"{match['registry']}/{match['repository']}@{resolved}", tag, resolved,
                             tuple(detail.get("imageTags", ())))

    # SageMaker ----------------------------------------------------------------------------------------------
    def create_training_job(self, request: dict[str, Any]) -> str:
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            return str(self.client("sagemaker").create_training_job(**request)["TrainingJobArn"])
        except ParamValidationError as error:
            raise AwsError(f"the request does not match SageMaker's API: {error}") from error
        except ClientError as error:
            server_side = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            if server_side or _code(error) == "ResourceInUse":  # maybe created; a retry then finds it
                return self._created_anyway(request, error)
            message = error.response.get("Error", {}).get("Message", str(error))
            raise AwsError(f"SageMaker rejected the job ({_code(error)}): {message}") from error
        except BotoCoreError as error:  # timeout, connection lost: did the request arrive?
            return self._created_anyway(request, error)

    def create_tuning_job(self, request: dict[str, Any]) -> str:
        """CreateHyperParameterTuningJob; its ARN."""
        answer = self._sagemaker("create_hyper_parameter_tuning_job", "SageMaker did not start the tuning job",
                                 **request)
        return str(answer["HyperParameterTuningJobArn"])

    def _created_anyway(self, request: dict[str, Any], error: Exception) -> str:
        """After an ambiguous answer to CreateTrainingJob, ask whether the job exists, and is this launch's
        (its Environment names this run); only then is the launch called failed."""
        try:
            job = self.describe_training_job(request["TrainingJobName"])
        except AwsError:
            raise AwsError(f"CreateTrainingJob failed ({_code(error)}) and no job "
                           f"{request['TrainingJobName']} exists: {error}") from error
        ours = job.get("Environment", {}).get("MLFLOW_RUN_ID") == request["Environment"]["MLFLOW_RUN_ID"]
        if not ours and "Environment" in job:
            raise AwsError(f"a job named {request['TrainingJobName']} already exists and belongs to another run")
        return str(job["TrainingJobArn"])

    def call(self, service: str, operation: str, failure: str, **arguments: Any) -> dict[str, Any]:
        """Call any operation; an API or connection error becomes AwsError("<failure> (<code>)")."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        try:
            answer: dict[str, Any] = getattr(self.client(service), operation)(**arguments)
        except (ClientError, BotoCoreError, ResponseParserError) as error:  # the last: an endpoint answering HTML
            raise AwsError(f"{failure} ({_code(error)})") from error
        return answer

    def _sagemaker(self, operation: str, failure: str, **arguments: Any) -> dict[str, Any]:
        return self.call("sagemaker", operation, failure, **arguments)

    def describe_training_job(self, job_name: str) -> dict[str, Any]:
        return self._sagemaker("describe_training_job", f"cannot describe training job {job_name}",
                               TrainingJobName=job_name)

    def training_job_exists(self, job_name: str) -> bool:
        """Whether a training job of that name exists (SageMaker answers ValidationException "not found")."""
        from botocore.exceptions import ClientError

        try:
            self.client("sagemaker").describe_training_job(TrainingJobName=job_name)
        except ClientError as error:
            message = str(error.response.get("Error", {}).get("Message", "")).lower()
            if _code(error) in ("ValidationException", "ResourceNotFound") and \
                    ("not found" in message or "could not find" in message):  # SageMaker's words, moto's
                return False
            raise AwsError(f"cannot look up training job {job_name} ({_code(error)})") from error
        return True

    def stop_training_job(self, job_name: str) -> None:
        self._sagemaker("stop_training_job", f"cannot stop training job {job_name}", TrainingJobName=job_name)

    def job_tags(self, job_arn: str) -> dict[str, str]:
        tags = self._sagemaker("list_tags", f"cannot read the tags of {job_arn}", ResourceArn=job_arn).get("Tags", [])
        return {tag["Key"]: tag["Value"] for tag in tags}

    def describe_mlflow_tracking_server(self, name: str) -> dict[str, Any]:
        return self._sagemaker("describe_mlflow_tracking_server", f"cannot find the managed MLflow server {name}",
                               TrackingServerName=name)

    # Secrets Manager ----------------------------------------------------------------------------------------
    def secret_arn(self, secret: str) -> str:
        """The full ARN of a secret given by ARN or name (DescribeSecret: metadata only, never the value), asked
        of this door's region: an ARN's own region is the caller's to pick (`Aws(reference.region)`)."""
        found = self.call("secretsmanager", "describe_secret", f"secret {secret} not found or not readable",
                          SecretId=secret)
        return str(found["ARN"])

    # CloudWatch Logs ----------------------------------------------------------------------------------------
    def job_log_streams(self, job_name: str) -> list[str]:
        from botocore.exceptions import ClientError

        try:
            found = self.client("logs").describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/")
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return []
            raise AwsError(f"cannot list the job's logs ({_code(error)})") from error
        return sorted(stream["logStreamName"] for stream in found.get("logStreams", []))

    def new_log_events(self, stream: str, token: str | None) -> tuple[Iterator[str], str | None]:
        """Messages after `token` in one stream, and the token to continue from."""
        arguments: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
        if token:
            arguments["nextToken"] = token
        found = self.call("logs", "get_log_events", f"cannot read the log stream {stream}", **arguments)
        return (event["message"] for event in found.get("events", [])), found.get("nextForwardToken")

    # EC2 ----------------------------------------------------------------------------------------------------
    def instance_type(self, name: str) -> dict[str, Any] | None:
        """EC2's DescribeInstanceTypes entry for a SageMaker type (`ml.g5.xlarge` → `g5.xlarge`): its GPUs and
        instance storage; None when EC2 does not know the type."""
        from botocore.exceptions import ClientError

        try:
            found = self.client("ec2").describe_instance_types(InstanceTypes=[name.removeprefix("ml.")])
        except ClientError as error:
            if _code(error) in ("InvalidInstanceType", "InvalidParameterValue"):
                return None
            raise AwsError(f"cannot describe instance type {name} ({_code(error)})") from error
        types: list[dict[str, Any]] = found.get("InstanceTypes", [])
        return types[0] if types else None
