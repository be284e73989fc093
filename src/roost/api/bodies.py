"""What every request body passes before a route reads it: the size bound, the JSON
nesting bound and the read deadline (`[limits] max_body_bytes`, `max_json_depth`,
`body_timeout`).

Nesting is counted on the raw bytes as they arrive, before any parser sees them: `[` and
`{` outside strings, whatever the declared content type (chat.nvim and LlamaChat read JSON
whatever the label says), so no route's `json.loads` can meet a document deep enough for a
RecursionError. Multipart bodies (audio uploads) are not counted: their parts are files,
and none of their fields carries JSON. WebSocket frames and JSON carried inside strings
(tool-call arguments) are checked against the same bound with `json_too_deep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from array import array
from itertools import accumulate, islice
from operator import sub
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.api.errors import ApiError, render

# A deadline that grows with what arrived: one more second for every this many bytes, so a
# large upload on a slow link is not cut off while a client dribbling bytes is.
BODY_MIN_RATE = 64 * 1024

# Inside a string, from just after its opening quote: up to the closing quote, a trailing
# lone backslash (it escapes the next chunk's first byte) or the end. Possessive: linear.
_IN_STRING = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
# Outside strings: text and whole strings, up to the opening quote of one left open.
_OUTSIDE = re.compile(rb'(?:[^"]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
_STRINGS = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEPS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")  # +1 and -1 as signed bytes


class DepthScanner:
    """The nesting depth of a JSON text fed in chunks of any size, strings skipped.

    A stray closing bracket (text that is not JSON) does not take the depth below zero."""

    __slots__ = ("deepest", "depth", "escaped", "in_string")

    def __init__(self) -> None:
        self.depth = 0
        self.deepest = 0
        self.in_string = False
        self.escaped = False  # the last chunk ended with a backslash inside a string

    def feed(self, chunk: bytes) -> int:
        """Scan the next chunk; returns the deepest nesting so far."""
        pos, end = (1 if self.escaped else 0), len(chunk)
        self.escaped = False
        while pos < end:
            if self.in_string:
                match = _IN_STRING.match(chunk, pos)
                assert match is not None  # it matches the empty string
                pos = match.end()
                if pos == end:
                    break
                if chunk[pos] == 0x5C:  # a backslash at the very end of the chunk
                    self.escaped = True
                    break
                self.in_string, pos = False, pos + 1  # past the closing quote
                continue
            match = _OUTSIDE.match(chunk, pos)
            assert match is not None
            self._count(_STRINGS.sub(b"", chunk[pos : match.end()]))
            pos = match.end()
            if pos < end:  # a string opens here and goes on past the chunk
                self.in_string, pos = True, pos + 1
        return self.deepest

    def _count(self, text: bytes) -> None:
        steps = text.translate(_STEPS, _NOT_BRACKETS)
        if not steps:
            return
        # The running depth clamped at zero (only text that is not JSON goes below it):
        # each prefix sum less the lowest (negative) one so far, all in C loops.
        sums = list(accumulate(array("b", steps), initial=self.depth))
        lows = islice(accumulate(sums, min, initial=0), 1, None)
        self.deepest = max(self.deepest, max(map(sub, sums, lows)))
        self.depth = sums[-1] - min(0, min(sums))


def json_too_deep(data: bytes | str, limit: int) -> bool:
    """True when the JSON text nests deeper than `limit` (strings skipped)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return DepthScanner().feed(raw) > limit


def too_deep_message(limit: int) -> str:
    return f"JSON nested deeper than {limit} levels ([limits] max_json_depth)"


class TooDeep(ValueError):
    pass


def loads(text: str, limit: int) -> Any:
    """json.loads, refusing (TooDeep, a ValueError) text nested deeper than `limit`."""
    if json_too_deep(text, limit):
        raise TooDeep(too_deep_message(limit))
    return json.loads(text)


class _Refused(HTTPException):
    """Raised inside the app when the body breaks a bound; an HTTPException so that
    FastAPI's body parsing passes it on instead of calling it a parse error, and every
    route's exception handler renders it in its dialect."""


def _too_deep(limit: int) -> _Refused:
    return _Refused(400, f"request body is {too_deep_message(limit)}")


def _too_large(limit: int) -> _Refused:
    return _Refused(413, f"request body is larger than {limit} bytes")


def _too_slow(timeout: float) -> _Refused:
    message = f"request body not received within {timeout:g} s ([limits] body_timeout)"
    return _Refused(408, message, headers={"Connection": "close"})


class BodyLimit:
    """Bound request bodies: size (by Content-Length up front, or as a stream arrives),
    JSON nesting, and the time the client takes to send them."""

    def __init__(
        self,
        app: ASGIApp,
        default: int,
        overrides: dict[str, int] | None = None,
        max_depth: int = 128,
        timeout: float = 60.0,
    ) -> None:
        self.app = app
        self.default = default
        self.overrides = overrides or {}
        self.max_depth = max_depth
        self.timeout = timeout

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared: int | None = None
        has_body = multipart = False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                has_body = True
                with contextlib.suppress(ValueError):  # else counted as it arrives
                    declared = int(value)
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-type":
                multipart = value[:19].lower() == b"multipart/form-data"
        if declared is not None and declared > limit:
            too_large = _too_large(limit)
            error = ApiError(413, "payload_too_large", too_large.detail)
            await render(scope["path"], error)(scope, receive, send)
            return
        if not has_body or declared == 0:  # nothing to read (a GET, say)
            await self.app(scope, receive, send)
            return
        scanner = None if multipart else DepthScanner()
        await self._guarded(scope, receive, send, limit, declared, scanner)

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        declared: int | None,
        scanner: DepthScanner | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        received = 0
        complete = started = False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body: disconnect watchers wait as long as they like
                return await receive()
            remaining = deadline + received / BODY_MIN_RATE - loop.time()
            try:
                async with asyncio.timeout(max(remaining, 0)):
                    message = await receive()
            except TimeoutError:
                raise _too_slow(self.timeout) from None
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            received += len(chunk)
            if declared is None and received > limit:  # a declared length is exact
                raise _too_large(limit)
            if scanner is not None and scanner.feed(chunk) > self.max_depth:
                raise _too_deep(self.max_depth)
            complete = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _Refused as exc:  # where no exception handler caught it (plain ASGI routes)
            if not started:
                error = ApiError(exc.status_code, _CODES[exc.status_code], exc.detail)
                response = render(scope["path"], error)
                response.headers.update(exc.headers or {})
                await response(scope, receive, send)


_CODES = {400: "invalid_request", 408: "request_timeout", 413: "payload_too_large"}
