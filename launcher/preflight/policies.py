"""When IAM's simulation is not available to the caller: read the role's own policies and decide the few actions
a job needs against them, saying what could not be decided.

Decided: an Allow statement that covers the action and the resource, and no Deny that does. Not decided here:
statements with a Condition, NotAction, NotResource or NotPrincipal, and whatever lies beyond the role's own
policies (permission boundaries, SCPs, resource policies such as a bucket's), which only the simulation sees.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any, Literal
from urllib.parse import unquote

from launcher.cloud.aws import Aws

Decision = Literal["allowed", "denied", "undecided"]
UNSURE = ("Condition", "NotAction", "NotResource", "NotPrincipal")


def document(raw: Any) -> dict[str, Any]:
    """A policy document as IAM returns it: a dict, or URL-encoded JSON text."""
    found = json.loads(unquote(raw)) if isinstance(raw, str) else raw
    return found if isinstance(found, dict) else {}


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(item) for item in value or []]


def role_statements(aws: Aws, role: str) -> list[dict[str, Any]]:
    """Every statement of the role's attached (default version) and inline policies."""
    documents = []
    attached = aws.call("iam", "list_attached_role_policies", f"cannot list the policies of {role}", RoleName=role)
    for policy in attached.get("AttachedPolicies", []):
        arn = policy["PolicyArn"]
        version = aws.call("iam", "get_policy", f"cannot read {arn}", PolicyArn=arn)["Policy"]["DefaultVersionId"]
        found = aws.call("iam", "get_policy_version", f"cannot read {arn}", PolicyArn=arn, VersionId=version)
        documents.append(document(found["PolicyVersion"]["Document"]))
    inline = aws.call("iam", "list_role_policies", f"cannot list the inline policies of {role}", RoleName=role)
    for name in inline.get("PolicyNames", []):
        found = aws.call("iam", "get_role_policy", f"cannot read {name}", RoleName=role, PolicyName=name)
        documents.append(document(found["PolicyDocument"]))
    statements = []
    for policy in documents:
        listed = policy.get("Statement", [])
        statements += [listed] if isinstance(listed, dict) else list(listed)
    return statements


def _covers(statement: dict[str, Any], action: str, resource: str) -> bool:
    actions = _listed(statement.get("Action"))
    resources = _listed(statement.get("Resource")) or ["*"]
    return any(fnmatch.fnmatch(action.lower(), pattern.lower()) for pattern in actions) and \
        any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources)


def decide(statements: list[dict[str, Any]], action: str, resource: str) -> Decision:
    """Whether these statements allow `action` on `resource`, as far as they can be read."""
    unsure = False
    allowed = False
    for statement in statements:
        effect = statement.get("Effect")
        if any(key in statement for key in UNSURE):
            unsure = unsure or "Action" not in statement or _covers(statement, action, resource)
            continue
        if not _covers(statement, action, resource):
            continue
        if effect == "Deny":
            return "denied"
        allowed = allowed or effect == "Allow"
    if unsure:
        return "undecided"
    return "allowed" if allowed else "denied"
