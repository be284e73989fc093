"""Secrets never reach the logs: a filter on every handler of the server's log config.

Keys travel in headers (`Authorization: Bearer`, `X-API-Key`), in query strings (the
browser WebSocket's `?token=`, MemGPT's `DELETE /admin/users/keys?api_key=`), and, at
trace level, uvicorn logs each request's scope and the WebSocket library each handshake
header. A query parameter's name is judged as the server reads it, percent-decoded
(`?%74oken=` is `?token=`), and so is a value that may hold a roost key. A path with a
query, as uvicorn passes it to the access log and to its WebSocket lines, is redacted
parameter by parameter; every record is redacted again as formatted.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

_HEADER_NAME = r"(?:x-api-key|authorization|proxy-authorization|cookie)"
# As a Python repr shows a header: ('x-api-key', 'value'), {b'authorization': b'...'}.
_QUOTED_HEADER = re.compile(rf"(?i)({_HEADER_NAME}(['\"])\s*[:,]\s*b?)(['\"])")
# As a header line shows it: "x-api-key: value" (the websockets library, at debug level).
_PLAIN_HEADER = re.compile(rf"(?i)((?<![\w-]){_HEADER_NAME}\s*:[ \t]*)[^\r\n]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",)]+")
# name=value, the name in any percent-encoding; the value up to the next parameter.
_PAIR = re.compile(r"(?<![\w%.+-])((?:[\w.+-]|%[0-9A-Fa-f]{2})+)=([^&\s'\"]*)")
# A quoted string (a repr'd query_string, a quoted request line): its parameters end at
# '&' or its closing quote, so a quote of the other kind inside a value does not end it.
_QUOTED = re.compile(r"""(['"])((?:\\.|(?!\1)[^\\])*)\1""")
_LAST_PAIR = re.compile(r"((?:[\w.+-]|%[0-9A-Fa-f]{2})+)=(.*)$", re.DOTALL)
_SECRET_NAME = re.compile(
    r"(?:^|[^a-z0-9])(?:token|api_key|apikey|api-key|key|password|passwd|secret)$"
)
_ROOST_KEY = re.compile(r"roost_[A-Za-z0-9_\-]{8,}")
# Cheap test first: most records (an access line without a query) hold none of these.
_MAYBE = re.compile(r"(?i)=|bearer|roost_|api-key|authoriz|cookie")
MASK = "***"


def _secret_pair(name: str, value: str) -> bool:
    if _SECRET_NAME.search(unquote_plus(name).strip().lower()):
        return True
    return _ROOST_KEY.search(unquote_plus(value)) is not None


def _pair(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    return f"{name}={MASK}" if value and _secret_pair(name, value) else match.group(0)


def _query_in_quotes(match: re.Match[str]) -> str:
    body = match.group(2)
    if "=" not in body:
        return match.group(0)
    pieces = []
    for piece in body.split("&"):
        pair = _LAST_PAIR.search(piece)
        if pair is not None and pair.group(2) and _secret_pair(pair.group(1), pair.group(2)):
            piece = piece[: pair.start(2)] + MASK
        pieces.append(piece)
    quote = match.group(1)
    return quote + "&".join(pieces) + quote


def _quoted_header(text: str) -> str:
    """Mask a repr'd header value up to its closing quote, whatever it holds."""
    out, at = [], 0
    for match in _QUOTED_HEADER.finditer(text):
        if match.start() < at:
            continue
        quote, start = match.group(3), match.end()
        end = start
        while end < len(text) and text[end] != quote:
            end += 2 if text[end] == "\\" else 1
        out.append(text[at:start] + MASK)
        at = min(end, len(text))
    return "".join(out) + text[at:]


def redact(text: str) -> str:
    if not _MAYBE.search(text):
        return text
    text = _quoted_header(text)
    text = _PLAIN_HEADER.sub(rf"\g<1>{MASK}", text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    text = _QUOTED.sub(_query_in_quotes, text)
    text = _PAIR.sub(_pair, text)
    return _ROOST_KEY.sub("roost_" + MASK, text)


def redact_target(target: str) -> str:
    """A request target (path and query) as uvicorn logs it: each parameter is split off
    exactly as the server splits it (at '&'), so a value is masked whole, quotes and all."""
    path, sep, query = target.partition("?")
    if not sep:
        return redact(target)
    params = []
    for param in query.split("&"):
        name, eq, value = param.partition("=")
        params.append(f"{name}={MASK}" if eq and value and _secret_pair(name, value) else param)
    return redact(path + "?" + "&".join(params))


def _clean(arg: object) -> object:
    if isinstance(arg, str):
        return redact_target(arg) if arg.startswith("/") else redact(arg)
    if isinstance(arg, int | float) or arg is None:
        return arg  # %d and %f placeholders need numbers
    return redact(str(arg))  # dicts, bytes, scopes: as %s would show them


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            if record.name == "uvicorn.access":
                # Its formatter unpacks the arguments (client, method, path, version, status).
                record.args = tuple(_clean(a) for a in record.args)
                return True
            # A request target (uvicorn's WebSocket lines) is cleaned parameter by parameter.
            record.args = tuple(
                redact_target(a) if isinstance(a, str) and a.startswith("/") else a
                for a in record.args
            )
        # A secret may also only show once formatted ("< %s: %s" % (name, value)).
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken record: let logging report it as it would
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
