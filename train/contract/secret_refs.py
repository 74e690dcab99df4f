"""References to AWS Secrets Manager secrets: how a job names a credential without holding it. Stdlib only.

A reference is a secret's ARN or name, optionally `#field` for one field of a JSON secret:
`arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlflow-AbCdEf#password`. The launcher checks it (its
secret exists, read as metadata only, in the ARN's own region) and hands it to the job as
`SMLAUNCH_SECRET_<VAR>=<reference>`; the job reads the value with its own role. One parser for both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$")
NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,256}$")
FIELD = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_LENGTH = 480


@dataclass(frozen=True)
class SecretReference:
    """A secret (ARN or name) and, for a JSON secret, the field the variable gets."""

    secret: str
    field: str | None = None

    @property
    def region(self) -> str | None:
        """The region an ARN names; None for a name (the job's region)."""
        match = ARN.match(self.secret)
        return match["region"] if match else None

    @property
    def is_arn(self) -> bool:
        return ARN.match(self.secret) is not None

    def pinned(self, arn: str) -> SecretReference:
        """The same reference with the secret given by its full ARN."""
        return SecretReference(arn, self.field)

    def __str__(self) -> str:
        return self.secret + (f"#{self.field}" if self.field else "")


class BadReference(ValueError):
    """Not a Secrets Manager reference; the message says what is expected (never the text itself)."""


def parse(text: str) -> SecretReference:
    """`text` as a reference, or BadReference saying what a reference looks like."""
    secret, hash_sign, field = text.partition("#")
    if len(text) > MAX_LENGTH:
        raise BadReference(f"a secret reference is at most {MAX_LENGTH} characters")
    if hash_sign and not FIELD.match(field):
        raise BadReference("after '#' comes the name of one field of a JSON secret (letters, digits, _ . -)")
    if secret.startswith("arn:") and not ARN.match(secret):
        raise BadReference("not a Secrets Manager ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)")
    if not secret.startswith("arn:") and not NAME.match(secret):
        raise BadReference("use a Secrets Manager secret ARN or name (letters, digits, / _ + = . @ -), optionally "
                           "with #field for one field of a JSON secret")
    return SecretReference(secret, field if hash_sign else None)
