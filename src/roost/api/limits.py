"""Abuse bounds per caller: a request rate (token bucket) and concurrent streams.

Who is the caller: a key that has authenticated here before (its digest: Python's keyed
SipHash of the key, fast and not reversible, random per process), else the client's
address. So a flood of made-up keys is one address's bucket, not a fresh bucket
per guess, and the table holds at most the keys that are real plus the addresses seen.
A key of the shape roost issues is let past its spent address bucket to authentication,
so a valid key's first request is not refused for the guesses of its neighbours; failed
authentications have their own bound per address (services/auth_failures.py).
Everything is in this process's memory: O(1) a request, no database, and per replica.

Streams (SSE responses and WebSockets) are counted by the route that opens one, before
its turn starts (`open_stream`), and released by this middleware when the request ends,
whether the stream finished, failed or the client hung up.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.api.credentials import credential
from roost.api.errors import ApiError, render
from roost.config import Settings
from roost.core.errors import InvalidRequest, RateLimited
from roost.core.ids import is_issued_key

SCOPE_KEY = "roost.caller"
EXEMPT_PATHS = frozenset({"/health"})  # liveness probes are never refused
TRY_AGAIN_LATER = 1013  # RFC 6455's close code for "overloaded, retry later"
MAX_ENTRIES = 10_000  # buckets kept; the least recently used go first
# What an unset setting means on a bind that other machines can reach.
LAN_REQUESTS_PER_MINUTE = 600
LAN_MAX_STREAMS = 8


@dataclass(frozen=True, slots=True)
class Bounds:
    requests_per_minute: int  # 0: off
    burst: int
    max_streams: int  # 0: off

    @property
    def active(self) -> bool:
        return self.requests_per_minute > 0 or self.max_streams > 0


def bounds(settings: Settings) -> Bounds:
    """The bounds in force: unset settings are off on a loopback bind (one local user is
    never surprised) and LAN_* otherwise (another machine can reach the server)."""
    limits = settings.limits
    local = settings.server.loopback
    rate = limits.requests_per_minute
    if rate is None:
        rate = 0 if local else LAN_REQUESTS_PER_MINUTE
    streams = limits.max_streams
    if streams is None:
        streams = 0 if local else LAN_MAX_STREAMS
    return Bounds(rate, limits.burst or rate, streams)


class _Bucket:
    __slots__ = ("stamp", "streams", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp
        self.streams = 0


class Limiter:
    """Buckets by caller: `take` one request, `acquire`/`release` a stream slot."""

    def __init__(self, bounds: Bounds, max_entries: int = MAX_ENTRIES) -> None:
        self.bounds = bounds
        self._rate = bounds.requests_per_minute / 60.0  # tokens a second
        self._max_entries = max_entries
        self._buckets: dict[int | str, _Bucket] = {}
        self._known: set[int] = set()  # digests of keys that authenticated here

    def identity(self, digest: int | None, address: str) -> int | str:
        return digest if digest is not None and digest in self._known else "addr:" + address

    def trust(self, digest: int) -> None:
        """A key authenticated: from now on it has its own bucket, not its address's."""
        if digest not in self._known:
            if len(self._known) >= self._max_entries:
                self._known.clear()  # back to per-address buckets until they sign in again
            self._known.add(digest)

    def _bucket(self, ident: int | str, now: float) -> _Bucket:
        bucket = self._buckets.pop(ident, None)  # re-inserted: the dict is in LRU order
        if bucket is None:
            bucket = _Bucket(float(self.bounds.burst), now)
            while len(self._buckets) >= self._max_entries:
                oldest = next(iter(self._buckets))
                if self._buckets[oldest].streams:  # holds streams: keep its count
                    self._buckets[oldest] = self._buckets.pop(oldest)
                    break
                del self._buckets[oldest]
        self._buckets[ident] = bucket
        return bucket

    def take(self, ident: int | str) -> float:
        """0.0 if the request may go ahead, else the seconds until it may."""
        if self._rate <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self._bucket(ident, now)
        tokens = min(float(self.bounds.burst), bucket.tokens + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return 0.0
        bucket.tokens = tokens
        return (1.0 - tokens) / self._rate

    def acquire(self, ident: int | str) -> bool:
        limit = self.bounds.max_streams
        if limit <= 0:
            return True
        bucket = self._bucket(ident, time.monotonic())
        if bucket.streams >= limit:
            return False
        bucket.streams += 1
        return True

    def release(self, ident: int | str) -> None:
        bucket = self._buckets.get(ident)
        if bucket is not None and bucket.streams > 0:
            bucket.streams -= 1

    def streams(self, ident: int | str) -> int:
        bucket = self._buckets.get(ident)
        return bucket.streams if bucket is not None else 0


class Caller:
    """This request's caller, as the middleware found it; the routes read it from scope."""

    __slots__ = ("address", "digest", "limiter", "stream")

    def __init__(self, limiter: Limiter, digest: int | None, address: str) -> None:
        self.limiter = limiter
        self.digest = digest
        self.address = address
        self.stream: int | str | None = None  # the identity a stream slot was taken from


def presented_key(scope: Scope) -> str | None:
    """The key the request presents, read as authentication reads it (api/credentials.py);
    None when it presents several: authentication answers that with 400, and until then
    the request is its address's."""
    try:
        return credential(scope)
    except InvalidRequest:
        return None


def rate_limited(seconds: float) -> ApiError:
    wait = max(1, math.ceil(seconds))
    return ApiError(429, "rate_limited", f"too many requests: retry in {wait} s", retry_after=wait)


class RateLimit:
    """ASGI middleware: refuse a caller over its request rate with 429 and Retry-After,
    and release the stream slots that routes took."""

    def __init__(self, app: ASGIApp, bounds: Bounds, limiter: Limiter | None = None) -> None:
        """`limiter`: the buckets, shared by every stack the middleware is built into
        (api/fast_path.py builds the middleware again around its routes)."""
        self.app = app
        self.limiter = limiter or Limiter(bounds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        key = presented_key(scope)
        digest = hash(key) if key else None
        client = scope.get("client")
        address = client[0] if client else ""
        ident = limiter.identity(digest, address)
        wait = limiter.take(ident)
        # An address spent by a flood of guesses does not lock out a key roost issued that
        # arrives from it, unknown yet: authentication decides (and throttles failures).
        by_address = isinstance(ident, str)
        if wait > 0.0 and not (by_address and key is not None and is_issued_key(key)):
            error = rate_limited(wait)
            if scope["type"] == "websocket":
                await _deny_websocket(scope, receive, send, error)
            else:
                await render(scope["path"], error)(scope, receive, send)
            return
        caller = Caller(limiter, digest, address)
        scope[SCOPE_KEY] = caller
        try:
            await self.app(scope, receive, send)
        finally:
            if caller.stream is not None:
                limiter.release(caller.stream)


async def _deny_websocket(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    """Accept, say why, close with 1013 (try again later): a browser sees neither a refused
    handshake's status nor its body, but it does see this (as for a bad key)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    text = json.dumps(
        {
            "type": "error",
            "error": {"code": error.code, "message": error.message},
            "retry_after": error.retry_after,
        }
    )
    await send({"type": "websocket.send", "text": text})
    await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": error.message})


def trust(conn: HTTPConnection) -> None:
    """The request's key authenticated: give it its own bucket from the next request on."""
    caller = conn.scope.get(SCOPE_KEY)
    if caller is not None and caller.digest is not None:
        caller.limiter.trust(caller.digest)


def open_stream(conn: HTTPConnection) -> None:
    """Count a stream for this caller, before its turn starts; RateLimited past the bound.
    The slot is released when the request (or WebSocket) ends."""
    caller: Caller | None = conn.scope.get(SCOPE_KEY)
    if caller is None or caller.stream is not None:
        return
    limiter = caller.limiter
    ident = limiter.identity(caller.digest, caller.address)  # after auth: the key's own
    if not limiter.acquire(ident):
        limit = limiter.bounds.max_streams
        raise RateLimited(
            f"too many streams at once for this key (at most {limit}): retry when one ends",
            retry_after=1,
        )
    caller.stream = ident
