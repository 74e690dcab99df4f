"""Does this look like a credential? Checked on everything a launch would record or send, before it does.

Two signals: the name a value is stored under (`*_PASSWORD`, `api_key`, `secret`, `token`, ... as whole words,
so `max_tokens` or `tokenizer` are fine) and the value's own shape (AWS access and secret keys, session
tokens, bearer and API tokens of well-known services, JWTs, private keys, URLs with a password). A finding
names the kind of credential, never the value. Nothing here reads files or the network.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

SENSITIVE_WORDS = {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey", "credential",
                   "credentials", "privatekey", "accesskey", "secretkey", "sessiontoken", "authtoken", "bearer"}
SENSITIVE_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("auth", "token"),
                   ("session", "token"), ("client", "secret")}

VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key ID", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|AKPA)[A-Z0-9]{16}"
                                        r"(?![A-Z0-9])")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a JSON web token", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("a bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{12,}=*")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("an API key", re.compile(r"\b(?:sk-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|AIza[0-9A-Za-z_-]{35})")),
    ("a URL with a password", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
    ("a URL with a token", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9_\-]{20,}@")),
    ("a password", re.compile(r"(?i)(?:password|passwd|pwd|secret|api[_-]?key|token)[\"']?\s*[=:]\s*[\"']?"
                              r"(?!arn:aws)[^\s\"',;]{6,}")),
)
SECRET_REFERENCE = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@#-]+")
# Files whose names say they hold secrets: never shipped with the code, never in the recorded diff.
SECRET_FILE_PATTERNS = (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "id_ecdsa*",
                        "*credentials*", ".netrc", ".pypirc", ".git-credentials", ".npmrc", "*.kdbx")
BASE64_RUN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40,}={0,2}(?![A-Za-z0-9/+=])")


@dataclass(frozen=True)
class Finding:
    """What kind of credential something looks like (the value itself is never kept)."""

    kind: str
    by_name: bool = False

    def __str__(self) -> str:
        return f"the name says it holds {self.kind}" if self.by_name else f"the value looks like {self.kind}"


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)  # camelCase → camel Case
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def sensitive_name(name: str) -> bool:
    """`MLFLOW_TRACKING_PASSWORD`, `apiKey`, `db.secret` yes; `max_tokens`, `tokenizer`, `secretary_id` no."""
    words = _words(name)
    pairs = list(itertools.pairwise(words))
    joined = {first + second for first, second in pairs}  # apiKey → api, key → apikey
    return bool(SENSITIVE_WORDS & (set(words) | joined)) or any(pair in SENSITIVE_PAIRS for pair in pairs)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _random_base64(text: str) -> str | None:
    """An AWS secret access key (40 characters) or session token (100+) hiding in `text`."""
    for match in BASE64_RUN.finditer(text):
        run = match.group(0).rstrip("=")
        mixed = any(c.islower() for c in run) and any(c.isupper() for c in run) and any(c.isdigit() for c in run)
        if not mixed or _entropy(run) < 4.2:  # a path or a word repeats letters; a key does not
            continue
        if len(run) >= 100 and run.count("/") <= 0.15 * len(run):
            return "an AWS session token"
        if len(run) < 100 and run.count("/") <= 4:  # a 40-character secret key has a few slashes at most
            return "an AWS secret access key"
    return None


def in_value(value: str) -> Finding | None:
    """The first credential shape found in `value` (a Secrets Manager ARN is a reference, not a secret)."""
    value = SECRET_REFERENCE.sub(" ", value)
    for kind, pattern in VALUE_PATTERNS:
        if pattern.search(value):
            return Finding(kind)
    shape = _random_base64(value)
    return Finding(shape) if shape else None


def check(name: str, value: object) -> Finding | None:
    """A credential stored as `value` under `name`, by either signal. Empty values and booleans/numbers under a
    sensitive name are not credentials (`use_token: true`, `token_ttl: 3600`)."""
    if not isinstance(value, str) or not value:
        return None
    return in_value(value) or (Finding("a credential", by_name=True) if sensitive_name(name) else None)


def scan_text(text: str) -> list[tuple[int, Finding]]:
    """(line number, finding) for each line of a file whose text holds a credential shape (comments too)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        hit = in_value(line)
        if hit:
            found.append((number, hit))
    return found
