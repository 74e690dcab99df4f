"""A SageMaker-mode project against the test moto server and MLflow server: bucket, data, ECR image, config."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from tests.conftest import Project
from tests.services import MotoServer

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
BUCKET = "ml-bucket"
REPOSITORY = "smlaunch-train"
TAG = "v1"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:{TAG}"


@dataclass
class CloudProject:
    project: Project
    moto: MotoServer
    tracking_uri: str
    experiment: str
    digest: str

    @property
    def env(self) -> dict[str, str | None]:
        return self.moto.aws_env()

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.moto.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def runs(self) -> list[Any]:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = client.get_experiment_by_name(self.experiment)
        return client.search_runs([experiment.experiment_id]) if experiment else []

    def run(self, *args: str, env: dict[str, str | None] | None = None) -> Any:
        return self.project.smlaunch("run", "configs/cloud.yaml", *args, env={**self.env, **(env or {})})


def cloud_config(experiment: str, tracking_uri: str) -> str:
    return f"""\
experiment: {experiment}
mode: sagemaker
training_config: train/digits.yaml
code:
  dirs: [../train]
tracking:
  uri: {tracking_uri}
  assume_reachable: true  # the test's servers are on loopback; the "job" is moto
sagemaker:
  region: {REGION}
  image: {IMAGE}
  role_arn: arn:aws:iam::{ACCOUNT}:role/SageMakerExecution
  instance_type: ml.m5.xlarge
  instance_count: 2
  output_path: s3://{BUCKET}/outputs
  config_prefix: s3://{BUCKET}/configs
  checkpoint_s3_uri: s3://{BUCKET}/checkpoints
  spot:
    enabled: true
    max_wait_seconds: 7200
  max_runtime_seconds: 3600
channels:
  training:
    uri: s3://{BUCKET}/datasets/digits/
    input_mode: FastFile
tags:
  team: ml-platform
"""


def make_cloud_project(project: Project, moto: MotoServer, tracking_uri: str) -> CloudProject:
    moto.reset()
    experiment = f"cloud-{uuid.uuid4().hex[:8]}"
    cloud = CloudProject(project, moto, tracking_uri, experiment, "")
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for name in ("train.npz", "validation.npz"):
        s3.upload_file(str(project.root / "data/digits" / name), BUCKET, f"datasets/digits/{name}")
    ecr = cloud.client("ecr")
    ecr.create_repository(repositoryName=REPOSITORY)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + hashlib.sha256(experiment.encode()).hexdigest(),
                                      "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"},
                           "layers": []})
    pushed = ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag=TAG)
    cloud.digest = pushed["image"]["imageId"]["imageDigest"]
    iam = cloud.client("iam")
    iam.create_role(RoleName="SageMakerExecution", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    iam.put_role_policy(RoleName="SageMakerExecution", PolicyName=JOB_POLICY_NAME,
                        PolicyDocument=json.dumps(JOB_POLICY))
    project.write("configs/cloud.yaml", cloud_config(experiment, tracking_uri))
    return cloud


SAGEMAKER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
JOB_POLICY_NAME = "training-job"
JOB_POLICY = {"Version": "2012-10-17", "Statement": [  # what a training job needs, as a team would grant it
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
     "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                   "ecr:BatchCheckLayerAvailability"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                   "logs:DescribeLogStreams"], "Resource": "*"}]}
