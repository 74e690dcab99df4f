"""What a URI shows: userinfo (`user:password@`, `token@`) and credential query values (`?access_token=...`)
are never printed, tagged or logged. Stdlib only."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"
SECRET_QUERY = re.compile(r"(token|secret|password|passwd|pwd|key|sig|signature|auth|credential|session)", re.I)


def has_userinfo(uri: str) -> bool:
    """Whether a URL carries `user:password@` (or `token@`) in its authority."""
    return "://" in uri and "@" in urlsplit(uri).netloc


def redact(uri: str) -> str:
    """The URI with any userinfo, and the value of any query parameter named like a credential, replaced by
    ***: for messages, tags and logs."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(SECRET_QUERY.search(name) for name, _ in query)
    if "@" not in parts.netloc and not secret_query:
        return uri  # untouched: rebuilding would normalize it (sqlite:////abs/path loses a slash)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=f"{REDACTED}@{parts.netloc.rsplit('@', 1)[1]}")
    if secret_query:
        parts = parts._replace(query=urlencode(
            [(name, REDACTED if SECRET_QUERY.search(name) else value) for name, value in query], safe="*"))
    return urlunsplit(parts)
