"""Pre-flight that knows SageMaker: each check with a case that passes and one that fails (or warns), against a
real moto server (and MLflow's basic-auth server); botocore's Stubber only for SimulatePrincipalPolicy, which
moto lacks, with parameters checked against the service model. Nothing is ever created."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cloud import ACCOUNT, BUCKET, REGION, REPOSITORY, SAGEMAKER_TRUST, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import AUTH_PASSWORD, AUTH_USER, MotoServer


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def dry_run(cloud: CloudProject, *args: str, env: dict[str, str | None] | None = None) -> dict[str, dict[str, Any]]:
    """{check name: result} of `run --dry-run`; asserts that nothing was created."""
    result = cloud.run("--dry-run", "--output", "json", *args, env=env)
    assert result.code in (0, 3), result.stderr[-2000:]
    assert cloud.runs() == [] and cloud.moto.recorded("SageMaker.CreateTrainingJob") == []
    return {check["check"]: check for check in result.json()["preflight"]}


def edit(cloud: CloudProject, old: str, new: str) -> None:
    config = cloud.project.root / "configs/cloud.yaml"
    assert old in config.read_text()
    config.write_text(config.read_text().replace(old, new))


def test_the_baseline_passes_every_check(cloud: CloudProject) -> None:
    checks = dry_run(cloud)
    failed = {name: c["detail"] for name, c in checks.items() if not c["ok"]}
    assert failed == {}
    assert {"channel training", "train.data.train_file", "output bucket", "image region", "image architecture",
            "image dependencies", "role", "role permissions", "spot"} <= set(checks)


def test_data_that_is_not_there_or_not_readable_fails(cloud: CloudProject) -> None:
    s3 = cloud.client("s3")
    s3.put_object(Bucket=BUCKET, Key="datasets/empty/", Body=b"")  # a folder marker is no data
    s3.put_object(Bucket=BUCKET, Key="datasets/cold/train.npz", Body=b"x", StorageClass="GLACIER")
    s3.put_object(Bucket=BUCKET, Key="datasets/cold/validation.npz", Body=b"x", StorageClass="DEEP_ARCHIVE")
    edit(cloud, "uri: s3://ml-bucket/datasets/digits/", "uri: s3://ml-bucket/datasets/empty/")
    checks = dry_run(cloud)
    assert not checks["channel training"]["ok"] and "no data under" in checks["channel training"]["detail"]
    assert not checks["train.data.train_file"]["ok"] and "does not exist" in checks["train.data.train_file"]["detail"]
    edit(cloud, "datasets/empty/", "datasets/cold/")
    checks = dry_run(cloud)
    assert not checks["channel training"]["ok"] and "archived (GLACIER, not restored)" in \
        checks["channel training"]["detail"]


def test_a_prefix_that_also_matches_a_neighbour_warns(cloud: CloudProject) -> None:
    cloud.client("s3").put_object(Bucket=BUCKET, Key="datasets/digits-old/stale.npz", Body=b"x")
    edit(cloud, "uri: s3://ml-bucket/datasets/digits/", "uri: s3://ml-bucket/datasets/digits")
    channel = dry_run(cloud)["channel training"]
    assert channel["ok"] and channel["warning"] and "digits-old" in channel["detail"]


def test_buckets_and_image_in_another_region_fail_saying_so(cloud: CloudProject) -> None:
    import boto3

    boto3.client("s3", region_name="us-east-1", endpoint_url=cloud.moto.endpoint, aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="far-bucket")
    edit(cloud, "output_path: s3://ml-bucket/outputs", "output_path: s3://far-bucket/outputs")
    edit(cloud, ".dkr.ecr.eu-west-1.", ".dkr.ecr.us-east-1.")
    checks = dry_run(cloud)
    assert "far-bucket (output) is in us-east-1, the job runs in eu-west-1" in checks["output bucket"]["detail"]
    assert "the image is in us-east-1, the job runs in eu-west-1" in checks["image region"]["detail"]
    assert "image" not in checks  # not looked up in the wrong region ("not found: make push" would mislead)


def put_index(cloud: CloudProject, tag: str, architectures: list[str]) -> None:
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "sha256:" + f"{i}" * 64,
         "platform": {"os": "linux", "architecture": arch}} for i, arch in enumerate(architectures)]}
    cloud.client("ecr").put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(index), imageTag=tag,
                                  imageManifestMediaType="application/vnd.oci.image.index.v1+json")


def test_an_image_for_another_architecture_fails(cloud: CloudProject) -> None:
    put_index(cloud, "arm", ["arm64"])
    put_index(cloud, "multi", ["amd64", "arm64"])
    edit(cloud, f"{REPOSITORY}:v1", f"{REPOSITORY}:arm")
    arch = dry_run(cloud)["image architecture"]
    assert not arch["ok"] and "built for arm64; ml.m5.xlarge runs amd64" in arch["detail"]
    multi = dry_run(cloud, "--set", f"sagemaker.image=123456789012.dkr.ecr.{REGION}.amazonaws.com/"
                    f"{REPOSITORY}:multi")["image architecture"]
    assert multi["ok"], multi


def test_an_image_from_other_dependencies_fails_and_says_make_push(cloud: CloudProject) -> None:
    manifest = cloud.client("ecr").batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}])
    body = manifest["images"][0]["imageManifest"]
    cloud.client("ecr").put_image(repositoryName=REPOSITORY, imageManifest=body, imageTag="deps-0123456789abcdef")
    deps = dry_run(cloud)["image dependencies"]
    assert not deps["ok"] and "built from other dependencies (0123456789abcdef)" in deps["detail"]
    assert "make push" in deps["detail"]


def test_a_role_that_is_missing_or_not_for_sagemaker_fails(cloud: CloudProject) -> None:
    iam = cloud.client("iam")
    iam.create_role(RoleName="NotForSageMaker", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))
    missing = dry_run(cloud, "--set", f"sagemaker.role_arn=arn:aws:iam::{ACCOUNT}:role/Nope")["role"]
    assert not missing["ok"] and "not found" in missing["detail"]
    untrusted = dry_run(cloud, "--set", f"sagemaker.role_arn=arn:aws:iam::{ACCOUNT}:role/NotForSageMaker")["role"]
    assert not untrusted["ok"] and "does not trust sagemaker.amazonaws.com" in untrusted["detail"]


def test_role_permissions_are_simulated(cloud: CloudProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto has no SimulatePrincipalPolicy: botocore's Stubber answers, checking each call against the model."""
    from botocore.stub import ANY, Stubber

    from launcher.cloud.aws import Aws
    from launcher.config.loader import load_launch_spec
    from launcher.preflight import role
    from launcher.preflight.report import PreflightReport

    for key, value in cloud.env.items():
        monkeypatch.setenv(key, value) if value is not None else monkeypatch.delenv(key, raising=False)
    spec = load_launch_spec(cloud.project.root / "configs/cloud.yaml")
    report = PreflightReport(region=REGION)
    wanted = role.needed(spec, report, ACCOUNT)
    aws = Aws(REGION)
    for denied_action in (None, "s3:PutObject"):
        with Stubber(aws.client("iam")) as stub:
            for _, actions, _ in wanted:
                results = [{"EvalActionName": action, "EvalResourceName": "*",
                            "EvalDecision": "implicitDeny" if action == denied_action else "allowed"}
                           for action in actions]
                stub.add_response("simulate_principal_policy", {"EvaluationResults": results},
                                  {"PolicySourceArn": spec.job.role_arn, "ActionNames": actions, "ResourceArns": ANY})
            if denied_action is None:
                assert "may read the data" in role.check_permissions(aws, spec, report, ACCOUNT)
            else:
                with pytest.raises(Exception, match=r"the role may not: s3:PutObject on \* \(write outputs\)"):
                    role.check_permissions(aws, spec, report, ACCOUNT)
            stub.assert_no_pending_responses()
    purposes = [purpose for purpose, _, _ in wanted]
    assert purposes == ["read channel training", "list channel training", "write outputs", "pull the image",
                        "log in to ECR", "write logs"]


def test_instance_type_tags_and_limits_come_from_the_service_model(cloud: CloudProject) -> None:
    typo = cloud.run("--dry-run", "--set", "sagemaker.instance_type=ml.m5.xlarg")
    assert typo.code == 2
    assert "'ml.m5.xlarg' is not a SageMaker training instance type — did you mean 'ml.m5.xlarge'?" in typo.stderr
    reserved = cloud.run("--dry-run", "--set", "tags.aws:owner=me")
    assert reserved.code == 2 and "tag keys starting with 'aws:' are reserved" in reserved.stderr
    warm = ["--set", "sagemaker.spot.enabled=false", "--set", "sagemaker.checkpoint_s3_uri=null"]
    assert cloud.run("--dry-run", *warm, "--set", "sagemaker.keep_alive_seconds=7200").code == 0  # API allows 21600
    too_long = cloud.run("--dry-run", *warm, "--set", "sagemaker.keep_alive_seconds=30000")
    assert too_long.code == 2 and "at most 21600 seconds" in too_long.stderr
    no_disk = cloud.run("--dry-run", "--set", "sagemaker.volume_size_gb=0")  # ml.m5.xlarge has no local storage
    assert no_disk.code == 2 and "ml.m5.xlarge has no instance storage" in no_disk.stderr
    nvme = ["--set", "sagemaker.volume_size_gb=0", "--set", "sagemaker.instance_type=ml.g5.xlarge"]
    assert cloud.run("--dry-run", *nvme).code == 0, "a type with local NVMe storage needs no volume"


@pytest.mark.parametrize(("host", "message"), [
    ("localhost", "localhost is this machine"), ("127.0.0.5", "127.0.0.5 is this machine"),
    ("0.0.0.0", "0.0.0.0 is this machine"), ("10.1.2.3", "10.1.2.3 is a private address"),
    ("169.254.0.9", "169.254.0.9 is a private address")])
def test_a_tracking_server_the_job_cannot_reach_is_refused(cloud: CloudProject, host: str, message: str) -> None:
    result = cloud.run("--dry-run", "--set", f"tracking.uri=http://{host}:5000", "--set",
                       "tracking.assume_reachable=false")
    assert result.code == 2 and message in result.stderr, result.stderr


def test_route_resolution_judges_what_a_name_points_to() -> None:
    from launcher.core.errors import LauncherError
    from launcher.preflight.tracking import check_route

    with pytest.raises(LauncherError, match=r"resolves to 127\.0\.0\.1: 127\.0\.0\.1 is this machine"):
        check_route("http://localhost:5000", has_vpc=False)
    assert check_route("http://10.0.0.7:5000", has_vpc=True) == "10.0.0.7 resolves to 10.0.0.7"
    assert check_route("http://93.184.216.34:5000", has_vpc=False).endswith("93.184.216.34")


def test_the_jobs_own_credentials_are_tried_not_the_laptops(project: Project, moto: MotoServer,
                                                            mlflow_auth_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = make_cloud_project(project, moto, mlflow_auth_url)
    laptop = {"MLFLOW_TRACKING_USERNAME": AUTH_USER, "MLFLOW_TRACKING_PASSWORD": AUTH_PASSWORD}
    for key, value in laptop.items():  # this test's own reads of the server (nothing created?) authenticate too
        monkeypatch.setenv(key, value)
    without = dry_run(cloud, env=laptop)["tracking credentials"]
    assert not without["ok"] and "asks for credentials (401) and SageMaker will have none" in without["detail"]
    assert "secrets:" in without["detail"]  # what to add; the laptop's own credentials do not count
    secrets = cloud.client("secretsmanager")
    secrets.create_secret(Name="mlflow/password", SecretString=AUTH_PASSWORD)
    config = cloud.project.root / "configs/cloud.yaml"
    config.write_text(config.read_text() + f"environment:\n  MLFLOW_TRACKING_USERNAME: {AUTH_USER}\n"
                      "secrets:\n  MLFLOW_TRACKING_PASSWORD: mlflow/password\n")
    with_secret = dry_run(cloud, env=laptop)
    assert with_secret["tracking credentials"]["ok"], with_secret["tracking credentials"]
    assert "MLFLOW_TRACKING_PASSWORD from Secrets Manager" in with_secret["tracking credentials"]["detail"]
    assert with_secret["secret MLFLOW_TRACKING_PASSWORD"]["ok"]
    assert [target for target, _ in moto.calls("secretsmanager.")] == ["secretsmanager.CreateSecret",
                                                                     "secretsmanager.DescribeSecret"]  # no value


def test_a_secret_in_another_region_is_described_there_and_never_read(cloud: CloudProject) -> None:
    """Pre-flight asks the region the ARN names (not the job's), with DescribeSecret only: the value is the
    job's to read, with its own role."""
    import boto3

    other = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=cloud.moto.endpoint,
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = other.create_secret(Name="team/token", SecretString='{"token": "value-never-read"}')["ARN"]
    config = cloud.project.root / "configs/cloud.yaml"
    config.write_text(config.read_text() + f"secrets:\n  HF_TOKEN: {arn}#token\n  MISSING: {arn[:-6]}nope#token\n")
    result = cloud.run("--dry-run", "--output", "json")
    checks = {check["check"]: check for check in result.json()["preflight"]}
    assert checks["secret HF_TOKEN"]["ok"] and arn in checks["secret HF_TOKEN"]["detail"]
    assert not checks["secret MISSING"]["ok"] and "not found" in checks["secret MISSING"]["detail"]
    assert result.json()["request"]["Environment"]["SMLAUNCH_SECRET_HF_TOKEN"] == f"{arn}#token"
    calls = [call for call in cloud.moto.calls("secretsmanager.") if call[0] != "secretsmanager.CreateSecret"]
    assert calls == [("secretsmanager.DescribeSecret", "us-east-1")] * 2
    assert "value-never-read" not in result.stdout + result.stderr


def test_a_vpc_without_a_way_to_s3_fails(cloud: CloudProject) -> None:
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="job", Description="job", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="other", Description="o",
                                      VpcId=ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"])["GroupId"]
    vpc_args = ["--set", f"sagemaker.vpc={{subnets: [{subnet}], security_group_ids: [{group}]}}"]
    blocked = dry_run(cloud, *vpc_args)["vpc"]
    assert not blocked["ok"] and "neither an S3 gateway endpoint nor a NAT gateway" in blocked["detail"]
    mixed = dry_run(cloud, "--set", f"sagemaker.vpc={{subnets: [{subnet}], security_group_ids: [{other}]}}")["vpc"]
    assert not mixed["ok"] and "different VPCs" in mixed["detail"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway")
    assert dry_run(cloud, *vpc_args)["vpc"]["ok"]


def test_spot_that_cannot_resume_warns(cloud: CloudProject) -> None:
    no_checkpoints = dry_run(cloud, "--set", "sagemaker.checkpoint_s3_uri=null")["spot"]
    assert no_checkpoints["ok"] and no_checkpoints["warning"] and "restarts from the beginning" in \
        no_checkpoints["detail"]
    assert not dry_run(cloud)["spot"]["warning"]  # digits checkpoints every epoch


_ = SAGEMAKER_TRUST
