"""Can SageMaker assume the execution role, and may the role do what the job needs?

GetRole: it exists and trusts sagemaker.amazonaws.com; its account is the caller's (or that is said).
SimulatePrincipalPolicy: it may read the channels, write the output and checkpoint prefixes, pull the image,
write logs and read the job's secrets. Read-only; if the caller may not simulate, that is said, not failed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from launcher.cloud.aws import ECR_IMAGE, Aws, AwsError, split_s3_uri
from launcher.config.spec import LaunchSpec
from launcher.preflight.report import Caveat, PreflightReport
from train.contract import secret_refs

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
LOG_GROUP_ARN = "arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/TrainingJobs:*"


def role_name(arn: str) -> str:
    return arn.split(":role/", 1)[1].rsplit("/", 1)[-1]


def _trusted_services(document: Any) -> set[str]:
    if isinstance(document, str):
        document = json.loads(unquote(document))
    services: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        service = statement.get("Principal", {}).get("Service", [])
        services |= {service} if isinstance(service, str) else set(service)
    return services


def check_role(aws: Aws, spec: LaunchSpec, caller_account: str) -> str:
    arn = spec.job.role_arn or ""
    role = aws.call("iam", "get_role", f"role {arn} not found or not readable", RoleName=role_name(arn))["Role"]
    if SAGEMAKER_PRINCIPAL not in _trusted_services(role.get("AssumeRolePolicyDocument", {})):
        raise AwsError(f"role {arn} does not trust {SAGEMAKER_PRINCIPAL}: add it to the role's trust policy, or "
                       "SageMaker cannot assume it")
    account = arn.split(":")[4]
    if account != caller_account:
        raise Caveat(f"role {arn} belongs to account {account}, you are in {caller_account}: the cross-account "
                     "setup must allow SageMaker to pass it")
    return f"{role_name(arn)} exists and trusts {SAGEMAKER_PRINCIPAL}"


def _s3_arn(uri: str, wildcard: bool = True) -> str:
    bucket, key = split_s3_uri(uri)
    return f"arn:aws:s3:::{bucket}/{key.rstrip('/')}{'/*' if wildcard else ''}".replace("//", "/")


def needed(spec: LaunchSpec, report: PreflightReport, account: str) -> list[tuple[str, list[str], list[str]]]:
    """(what for, actions, resources) the job's role must be allowed."""
    region = report.region or ""
    wants = [(f"read channel {c.name}", ["s3:GetObject"], [_s3_arn(c.uri)]) for c in spec.channels
             if c.uri.startswith("s3://")]
    wants += [(f"list channel {c.name}", ["s3:ListBucket"], [f"arn:aws:s3:::{split_s3_uri(c.uri)[0]}"])
              for c in spec.channels if c.uri.startswith("s3://")]
    writes = [spec.job.output_path, spec.job.checkpoint_s3_uri or ""]
    wants += [("write outputs", ["s3:PutObject"], [_s3_arn(uri) for uri in writes if uri.startswith("s3://")])]
    match = ECR_IMAGE.match(spec.job.image or "")
    if match:
        repo = f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
        wants += [("pull the image", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [repo]),
                  ("log in to ECR", ["ecr:GetAuthorizationToken"], ["*"])]
    wants += [("write logs", ["logs:CreateLogStream", "logs:PutLogEvents"],
               [LOG_GROUP_ARN.format(region=region, account=account)])]
    secrets = [secret_refs.parse(text).secret for text in report.secret_refs.values()]
    if secrets:
        wants += [("read its secrets", ["secretsmanager:GetSecretValue"], secrets)]
    return [(purpose, actions, resources) for purpose, actions, resources in wants if resources]


def check_permissions(aws: Aws, spec: LaunchSpec, report: PreflightReport, account: str) -> str:
    denied = []
    for purpose, actions, resources in needed(spec, report, account):
        try:
            found = aws.call("iam", "simulate_principal_policy", "cannot simulate the role's permissions",
                             PolicySourceArn=spec.job.role_arn, ActionNames=actions, ResourceArns=resources)
        except AwsError as error:
            raise Caveat(f"not simulated ({error}): make sure the role may read the data, write the outputs, "
                         "pull the image and write logs") from error
        for result in found.get("EvaluationResults", []):
            if result.get("EvalDecision") != "allowed":
                denied.append(f"{result['EvalActionName']} on {result.get('EvalResourceName', '*')} ({purpose})")
    if denied:
        raise AwsError(f"the role may not: {'; '.join(denied)} — add these to its policy")
    return "may read the data, write the outputs, pull the image and write logs"
