"""Secrets never reach the logs: a filter on every handler of the server's log config.

Keys travel in headers (`Authorization: Bearer`, `X-API-Key`), in query strings (the
browser WebSocket's `?token=`, MemGPT's `DELETE /admin/users/keys?api_key=`), and, at
trace level, uvicorn logs each request's scope and the WebSocket library each handshake
header. A record is redacted as formatted; the access log's arguments one by one, since
its formatter reads them separately.
"""

from __future__ import annotations

import logging
import re

_HEADER = re.compile(
    r"(?i)((?:x-api-key|authorization|proxy-authorization|cookie)['\"]?\s*[:,]\s*(?-i:b)?['\"]?)"
    r"[^'\"\r\n,)]+"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",)]+")
_QUERY = re.compile(
    r"(?i)((?<![\w-])(?:token|api_key|apikey|api-key|key|password|passwd|secret)=)[^&\s'\"]+"
)
_ROOST_KEY = re.compile(r"roost_[A-Za-z0-9_\-]{8,}")
# Cheap test first: most records (an access line without a query) hold none of these.
_MAYBE = re.compile(r"(?i)=|bearer|roost_|api-key|authoriz|cookie")
MASK = "***"


def redact(text: str) -> str:
    if not _MAYBE.search(text):
        return text
    text = _HEADER.sub(rf"\g<1>{MASK}", text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    text = _QUERY.sub(rf"\g<1>{MASK}", text)
    return _ROOST_KEY.sub("roost_" + MASK, text)


def _clean(arg: object) -> object:
    if isinstance(arg, str):
        return redact(arg)
    if isinstance(arg, int | float) or arg is None:
        return arg  # %d and %f placeholders need numbers
    return redact(str(arg))  # dicts, bytes, scopes: as %s would show them


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # Its formatter unpacks the arguments (client, method, path, version, status).
            record.args = tuple(_clean(a) for a in record.args)
            return True
        # Elsewhere a secret may only show once formatted ("< %s: %s" % (name, value)).
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken record: let logging report it as it would
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
