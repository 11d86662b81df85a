"""The second line of defence for logs: secrets and addresses that slipped into a log line are masked.

The first line is the log calls themselves: none passes a message body, password, token, cookie or
e-mail address (and SQLAlchemy is told to keep statement parameters out of its errors). This filter
catches what a library or a future change lets through: e-mail addresses, bearer tokens, cookie
values, `password` fields, secret-looking query parameters and long random tokens. It cannot know a
message body when it sees one; that is why the log calls never pass one.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1[redacted]@"),   # scheme://user:password@
    (re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[email]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b((?:set-)?cookie[\"']?\s*[:=,]\s*[\"']?)[^\r\n\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(convene_session=)[^;\s\"',&]+"), r"\1[redacted]"),
    (re.compile(r"(?i)([\"']?(?:password|passwd|secret|credential|authorization)[\"']?\s*[:=]\s*)"
                r"(\"[^\"]*\"|'[^']*'|[^\s,;}&]+)"), r"\1[redacted]"),
    (re.compile(r"(?i)([?&](?:token|access_token|sig|signature|key|code|password|secret)=)[^&\s\"']+"),
     r"\1[redacted]"),
    # A long run of URL-safe characters mixing upper case, lower case and digits is a random token
    # (ours are 43 characters); ids, hashes (lower-case hex) and words are left alone.
    (re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])"
                r"[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])"), "[token]"),
]

# Query parameters whose values may be logged in an access line; every other value (a search
# query is a member's words, a signature is a credential) is replaced.
SAFE_QUERY_NAMES = frozenset({"v", "limit", "before", "after", "since", "offset", "sort", "language", "page",
                              "compression", "kind", "state", "format", "tag", "presenter", "until"})


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def safe_path(full_path: str) -> str:
    """A request path with only harmless query values kept: `/api/search?q=…&limit=20`."""
    path, mark, query = full_path.partition("?")
    if not mark:
        return path
    pairs = [f"{quote(name)}={quote(value) if name in SAFE_QUERY_NAMES else '…'}"
             for name, value in parse_qsl(query, keep_blank_values=True)]
    return f"{path}?{'&'.join(pairs)}"


class RedactingFilter(logging.Filter):
    """Renders each record's message (and traceback) once, masked; attached to the log handler, so
    every logger's records pass through it, uvicorn's included."""

    _tracebacks = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, full_path, version, status = record.args
            record.args = (client, method, safe_path(str(full_path)), version, status)
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._tracebacks.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
