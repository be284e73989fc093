"""ASGI guards that run before routing: the Host check and the request body bound."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.api.errors import ApiError, render

WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def _host_name(raw: str) -> str:
    """The host part of a Host header, without port or IPv6 brackets, lowercased."""
    raw = raw.strip().lower()
    if raw.startswith("["):
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HostGuard:
    """Refuse requests whose Host is not ours: a DNS-rebinding page cannot reach us.

    On a loopback bind only loopback names are ours. On a wildcard bind, IP literals are
    accepted too (any of the machine's addresses); DNS names must be configured.

    Also refuse cross-site writes (CSRF): a page on another site can make a browser send a
    "simple" POST (a form, text/plain) that needs no preflight, and with `[auth] required
    = false` it would need no key either. Browsers mark such requests with `Origin` (and
    `Sec-Fetch-Site`); a write from an origin that is neither this server nor one of
    `cors_origins` is refused. Clients that are not browsers send neither header.
    """

    def __init__(
        self, app: ASGIApp, bind: str, extra: Iterable[str], origins: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.allowed = {"localhost", "127.0.0.1", "::1", bind.lower()} | {h.lower() for h in extra}
        self.allow_ips = bind in WILDCARD_BINDS
        self.origins = {o.strip().rstrip("/").lower() for o in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw_host = origin = fetch_site = ""
            for name, value in scope.get("headers", []):
                if name == b"host":
                    raw_host = value.decode("latin-1")
                elif name == b"origin":
                    origin = value.decode("latin-1")
                elif name == b"sec-fetch-site":
                    fetch_site = value.decode("latin-1")
            host = _host_name(raw_host) if raw_host else ""
            if host and host not in self.allowed and not (self.allow_ips and _is_ip(host)):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                error = ApiError(400, "invalid_request", f"host '{host}' is not allowed")
                await render(scope["path"], error)(scope, receive, send)
                return
            if (
                (origin or fetch_site)
                and scope["type"] == "http"
                and scope["method"] not in SAFE_METHODS
                and not self._same_site(origin, fetch_site, raw_host)
            ):
                error = ApiError(403, "forbidden", "cross-site request refused (CSRF)")
                await render(scope["path"], error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _same_site(self, origin: str, fetch_site: str, raw_host: str) -> bool:
        if origin:
            origin = origin.strip().rstrip("/").lower()
            if origin in self.origins or "*" in self.origins:
                return True
            return urlsplit(origin).netloc == raw_host.strip().lower()
        return fetch_site.lower() in ("same-origin", "none")  # "none": typed by the user


class BodyLimit:
    """Bound request bodies: refuse by Content-Length up front, or when the stream passes it."""

    def __init__(self, app: ASGIApp, default: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.overrides = overrides or {}

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
        too_large = ApiError(413, "payload_too_large", f"request body is larger than {limit} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break  # counted as it arrives, below
                if declared > limit:
                    await render(scope["path"], too_large)(scope, receive, send)
                    return
                # The server delivers exactly Content-Length bytes: nothing to count (and
                # no wrapper on every chunk of a long stream sent back).
                await self.app(scope, receive, send)
                return
        received = 0
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _TooLarge:
            if not started:
                await render(scope["path"], too_large)(scope, receive, send)


class _TooLarge(HTTPException):
    """Raised inside the app when a chunked body passes the bound; an HTTPException so
    that FastAPI's body parsing passes it on instead of calling it a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")
