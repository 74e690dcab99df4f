"""Can SageMaker assume the execution role, and may the role do what the job needs?

GetRole: it exists and trusts sagemaker.amazonaws.com; its account is the caller's (or that is said).
SimulatePrincipalPolicy: it may read the channels, write the output and checkpoint prefixes, pull the image,
write logs and read the job's secrets. Where the caller may not simulate, the role's own policies are read and
decided (preflight.policies), saying what could not be. Read-only.
"""

from __future__ import annotations

from typing import Any

from launcher.cloud.aws import ECR_IMAGE, Aws, AwsError, split_s3_uri
from launcher.config.spec import LaunchSpec
from launcher.preflight import policies
from launcher.preflight.report import Caveat, PreflightReport
from train.contract import secret_refs

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
LOG_GROUP_ARN = "arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/TrainingJobs:*"


def role_name(arn: str) -> str:
    return arn.split(":role/", 1)[1].rsplit("/", 1)[-1]


def _trusted_services(raw: Any) -> set[str]:
    document = policies.document(raw)
    services: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        service = statement.get("Principal", {}).get("Service", [])
        services |= {service} if isinstance(service, str) else set(service)
    return services


def check_role(aws: Aws, spec: LaunchSpec, caller_account: str) -> str:
    arn = spec.job.role_arn or ""
    account = arn.split(":")[4]
    if account != caller_account:
        raise AwsError(f"role {arn} belongs to account {account}, you are in {caller_account}: SageMaker runs a job "
                       "only with a role of the account that starts it (iam:PassRole passes a role of your own "
                       f"account): use a role in {caller_account}")
    role = aws.call("iam", "get_role", f"role {arn} not found or not readable", RoleName=role_name(arn))["Role"]
    if SAGEMAKER_PRINCIPAL not in _trusted_services(role.get("AssumeRolePolicyDocument", {})):
        raise AwsError(f"role {arn} does not trust {SAGEMAKER_PRINCIPAL}: add it to the role's trust policy, or "
                       "SageMaker cannot assume it")
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
    """IAM's simulation of what the job needs; where the caller may not simulate, the role's own policies read."""
    denied = []
    wanted = needed(spec, report, account)
    for purpose, actions, resources in wanted:
        try:
            found = aws.call("iam", "simulate_principal_policy", "cannot simulate the role's permissions",
                             PolicySourceArn=spec.job.role_arn, ActionNames=actions, ResourceArns=resources)
        except AwsError as error:
            return _from_policies(aws, spec, wanted, error)
        for result in found.get("EvaluationResults", []):
            if result.get("EvalDecision") != "allowed":
                denied.append(f"{result['EvalActionName']} on {result.get('EvalResourceName', '*')} ({purpose})")
    if denied:
        raise AwsError(f"the role may not: {'; '.join(denied)} — add these to its policy")
    return "may read the data, write the outputs, pull the image and write logs"


def _from_policies(aws: Aws, spec: LaunchSpec, wanted: list[tuple[str, list[str], list[str]]],
                   why: AwsError) -> str:
    """The job's needs decided against the role's own policies (no simulation: `why`)."""
    role = role_name(spec.job.role_arn or "")
    try:
        statements = policies.role_statements(aws, role)
    except AwsError as error:
        raise Caveat(f"neither simulated ({why}) nor read ({error}): make sure the role may read the data, write "
                     "the outputs, pull the image and write logs") from error
    decided: dict[str, list[str]] = {"denied": [], "undecided": []}
    for purpose, actions, resources in wanted:
        for action in actions:
            for resource in resources:
                decision = policies.decide(statements, action, resource)
                if decision != "allowed":
                    decided[decision].append(f"{action} on {resource} ({purpose})")
    if decided["denied"]:
        raise AwsError(f"the role's policies do not allow: {'; '.join(decided['denied'])} — add these to its policy "
                       f"(read from its policies: IAM's simulation is not available to you: {why})")
    if decided["undecided"]:
        raise Caveat(f"not simulated ({why}); the role's own policies allow the rest, but could not be decided for "
                     f"(conditions, Not* statements): {'; '.join(decided['undecided'])}")
    return ("its own policies allow reading the data, writing the outputs, pulling the image and writing logs "
            f"(IAM's simulation is not available to you: {why}; permission boundaries and SCPs are not read)")
