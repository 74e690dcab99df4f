"""Does this look like a credential? The one guard over everything the launcher records, ships or prints.

The shapes come from a maintained detector, detect-secrets: the patterns of its provider plugins (AWS keys,
GitHub, GitLab, Slack tokens and webhooks, Stripe, Twilio, SendGrid, npm, PyPI, OpenAI, JWTs, private keys,
URLs with a password, ...) on every value and line, and its keyword rule (a password, token or API key written
as `name: value` / `name = "value"`, for the file's type) with its false-positive filters on every line of a file.
Its high-entropy rules are not used: they take run IDs and digests for secrets, and a value stored under a
credential's name is refused whatever its entropy. Our own rules cover only what it lacks, each with a test
(tests/test_guard.py):
  - names: a value stored under a name whose words say credential (`MLFLOW_TRACKING_PASSWORD`, `apiKey`,
    `db.secret`; not `max_tokens`, `tokenizer`, `secretary_id`), however short or sequential the value (its
    keyword rule lets `token: abcdefgh12345` and single characters through);
  - HTTP `Authorization` values (`Basic <base64>`, `Bearer <token>`);
  - URL query parameters that carry a credential (`?access_token=`, `?api_key=`, `&sig=`);
  - Hugging Face tokens (`hf_...`) and current OpenAI keys (`sk-proj-...`), which it has no plugin for;
  - AWS secret access keys and session tokens (it finds them only as high-entropy strings);
  - URLs with a password holding characters its pattern stops at (`postgresql://user:pa&ss!@host`);
  - unquoted assignments to a credential's name (`export DB_PASSWORD=...`, `token = ...`) in plain text, shell
    and .env files, whose lines its keyword rule reads only when quoted.
A line marked the way detect-secrets marks a false positive (`# pragma: allowlist secret`) is let through.
A finding names the kind of credential, never the value. `redact` replaces what the shapes find in a text,
the last line of defence for anything printed. Credential files (`.env`, keys, `.netrc`, Docker and AWS
credentials) are recognised by name. Nothing here reads the network.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import Any

SENSITIVE_WORDS = {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey", "credential",
                   "credentials", "privatekey", "accesskey", "secretkey", "sessiontoken", "authtoken", "bearer"}
SENSITIVE_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("auth", "token"),
                   ("session", "token"), ("client", "secret")}
OWN_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an HTTP Authorization value", re.compile(r"(?i)\b(?:basic|bearer)\s+[A-Za-z0-9\-._~+/]{12,}=*")),
    ("a URL with a credential in its query", re.compile(
        r"(?i)[?&](?:access[_-]?token|id[_-]?token|refresh[_-]?token|token|api[_-]?key|apikey|key|secret|"
        r"password|passwd|sig|signature|auth|client[_-]?secret|x-amz-signature|x-amz-security-token)="
        r"(?!\*\*\*)[^&#\s]{6,}")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("an OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("a URL with a token", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9_\-]{20,}@")),
    ("a URL with a password", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)
ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\s*[:=]\s*(?P<value>[^\s\"'`$<{(%][^\s\"'`;,]{3,})")
CODE_SUFFIXES = {".rb", ".rs", ".ts", ".tsx", ".jsx", ".kt", ".scala", ".h", ".hpp", ".lua", ".r", ".jl", ".ipynb",
                 ".html", ".css", ".json", ".sql", ".md", ".rst"}
SECRET_REFERENCE = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@#-]+")
BASE64_RUN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40,}={0,2}(?![A-Za-z0-9/+=])")
RENAMED = {"Basic Auth Credentials": "a URL with a password", "Private Key": "a private key"}
UNUSED_PLUGINS = ("Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector", "KeywordDetector")
# Files whose names say they hold credentials: never shipped with the code, never in the recorded diff.
CREDENTIAL_FILES = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa*",
                    "id_dsa*", "id_ed25519*", "id_ecdsa*", "*credentials*", ".netrc", "_netrc", ".pypirc",
                    ".git-credentials", ".npmrc", "*.kdbx", ".htpasswd", "kubeconfig", "*.tfstate")
CREDENTIAL_PATHS = (".docker/config.json", ".aws/config", ".kube/config", ".config/gcloud/*", ".azure/*",
                    ".ssh/*", ".gnupg/*")
SECRET_FILE_PATTERNS = CREDENTIAL_FILES  # for git pathspecs: these names, anywhere


@dataclass(frozen=True)
class Finding:
    """What kind of credential something looks like (the value itself is never kept)."""

    kind: str
    by_name: bool = False

    def __str__(self) -> str:
        return f"the name says it holds {self.kind}" if self.by_name else f"the value looks like {self.kind}"


@cache
def _providers() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, pattern) of every provider plugin of detect-secrets (imported on first use: ≈0.2 s)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    found = []
    plugins: dict[str, Any] = get_mapping_from_secret_type_to_class()
    for secret_type, plugin in plugins.items():
        if plugin.__name__ in UNUSED_PLUGINS:
            continue
        found += [(_article(secret_type), pattern) for pattern in getattr(plugin, "denylist", ())]
    return tuple(found)


@cache
def _keyword() -> Any:
    from detect_secrets.filters import heuristic
    from detect_secrets.plugins.keyword import DENYLIST_REGEX, KeywordDetector

    filters = (lambda secret, line, plugin: heuristic.is_sequential_string(secret),
               lambda secret, line, plugin: heuristic.is_potential_uuid(secret),
               heuristic.is_likely_id_string,
               lambda secret, line, plugin: heuristic.is_templated_secret(secret),
               lambda secret, line, plugin: heuristic.is_prefixed_with_dollar_sign(secret),
               lambda secret, line, plugin: heuristic.is_indirect_reference(line),
               lambda secret, line, plugin: heuristic.is_not_alphanumeric_string(secret))
    return KeywordDetector(), re.compile(DENYLIST_REGEX, re.IGNORECASE), filters


def _article(secret_type: str) -> str:
    """detect-secrets' 'GitLab Token' → 'a GitLab token' (how a message names it)."""
    if secret_type in RENAMED:
        return RENAMED[secret_type]
    words = secret_type.split()
    text = " ".join([words[0], *(word.lower() if word.istitle() else word for word in words[1:])])
    return ("an " if text[0].lower() in "aeiou" else "a ") + text


@cache
def _any_shape() -> re.Pattern[str]:
    """Every shape in one pattern: one pass over a value tells whether any of them can be in it (configs hold
    thousands of values; the rare hit is then told apart pattern by pattern)."""
    parts = []
    for _, pattern in (*OWN_SHAPES, *_providers()):
        text = pattern.pattern.removeprefix("(?i)")  # a global flag may only lead a whole expression
        parts.append(f"(?i:{text})" if pattern.flags & re.IGNORECASE else f"(?:{text})")
    return re.compile("|".join(parts))


def in_value(value: str) -> Finding | None:
    """The first credential shape found in `value` (a Secrets Manager ARN is a reference, not a secret)."""
    value = SECRET_REFERENCE.sub(" ", value)
    if len(value) < 8:
        return None
    if not _any_shape().search(value):
        shape = _random_base64(value)
        return Finding(shape) if shape else None
    for kind, pattern in (*OWN_SHAPES, *_providers()):
        if pattern.search(value):
            return Finding(kind)
    shape = _random_base64(value)
    return Finding(shape) if shape else None


def in_line(line: str, filename: str = "config.yaml") -> Finding | None:
    """A credential in one line of a file: a shape, or a credential assigned to a keyword (detect-secrets'
    keyword rule for the file's type, with its false-positive filters)."""
    found = in_value(line)
    if found is not None:
        return found
    if _plain_text(filename) and any(sensitive_name(match["name"]) for match in ASSIGNMENT.finditer(line)):
        return Finding("a credential assigned to a name that says so")
    detector, keywords, filters = _keyword()
    if not keywords.search(line):
        return None
    for hit in detector.analyze_line(filename=filename, line=line, line_number=1):
        secret = hit.secret_value or ""
        if not any(drop(secret, line, detector) for drop in filters):
            return Finding("a credential assigned to a keyword (password, token, secret, API key)")
    return None


@cache
def _plain_text(filename: str) -> bool:
    """A file whose assignments detect-secrets reads only when quoted: plain text, shell, .env, no extension."""
    from detect_secrets.util.filetype import FileType, determine_file_type

    suffix = PurePosixPath(filename).suffix.lower()
    return determine_file_type(filename) == FileType.OTHER and suffix not in CODE_SUFFIXES


def scan_text(text: str, filename: str = "config.yaml") -> list[tuple[int, Finding]]:
    """(line number, finding) for each line of a file's text that holds a credential (comments too), except
    lines marked as detect-secrets marks a false positive (`# pragma: allowlist secret`, or
    `# pragma: allowlist nextline secret` on the line before)."""
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines, start=1):
        hit = in_line(line, filename)
        if hit and not _allowlisted(lines, number, filename):
            found.append((number, hit))
    return found


def _allowlisted(lines: list[str], number: int, filename: str) -> bool:
    from detect_secrets.filters.allowlist import is_line_allowlisted
    from detect_secrets.util.code_snippet import get_code_snippet

    return bool(is_line_allowlisted(filename, lines[number - 1], get_code_snippet(lines, number)))


def check(name: str, value: object) -> Finding | None:
    """A credential stored as `value` under `name`, by either signal. Empty values and booleans/numbers under a
    sensitive name are not credentials (`use_token: true`, `token_ttl: 3600`)."""
    if not isinstance(value, str) or not value:
        return None
    return in_value(value) or (Finding("a credential", by_name=True) if sensitive_name(name) else None)


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


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    for kind, pattern in (*OWN_SHAPES, *_providers()):
        for match in pattern.finditer(text):
            yield match.start(), match.end(), kind
    for match in BASE64_RUN.finditer(text):
        shape = _random_base64(match.group(0))
        if shape:
            yield match.start(), match.end(), shape


def redact(text: str) -> str:
    """`text` with every span a shape rule finds replaced by `<redacted: kind>` (for anything printed)."""
    if len(text) < 8:
        return text
    spans = sorted(_spans(text))
    if not spans:
        return text
    out, position = [], 0
    for start, end, kind in spans:
        if start < position:
            continue
        out += [text[position:start], f"<redacted: {kind}>"]
        position = end
    return "".join([*out, text[position:]])


def credential_file(relative: str) -> bool:
    """Whether a file's path (relative, POSIX) names a credential file: `.env`, `id_rsa`, `*.pem`, `.netrc`,
    `.docker/config.json`, `.aws/credentials`, ..."""
    path = PurePosixPath(relative)
    name = path.name.lower()
    if any(fnmatch.fnmatch(name, pattern) for pattern in CREDENTIAL_FILES):
        return True
    lowered = str(path).lower()
    return any(fnmatch.fnmatch(lowered, pattern) or fnmatch.fnmatch(lowered, f"*/{pattern}")
               for pattern in CREDENTIAL_PATHS)
