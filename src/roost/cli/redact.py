"""Secrets never reach the logs: a filter on every handler of the server's log config.

Keys travel in headers (`Authorization: Bearer`, `X-API-Key`), in query strings (the
browser WebSocket's `?token=`, MemGPT's `DELETE /admin/users/keys?api_key=`), and, at
trace level, uvicorn logs each request's scope and the WebSocket library each handshake
header. Each argument of a record is redacted where it is a string (the access log's
formatter reads the arguments one by one); anything else is formatted first.
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
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True
