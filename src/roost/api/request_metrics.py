"""Counts and times every HTTP request, and the streams and WebSockets open now.

Labels come from the route's template (`/api/sessions/{session_id}`), never the raw path,
so a client cannot mint new series; the dialect is the package of the route's endpoint
(roost.api.<dialect>). A request refused before routing (the Host check, the rate limit)
counts under the route its path and method name; one that names no route (a 404) under
route "unmatched", dialect "none".
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import Counter, Histogram
from starlette.routing import WebSocketRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.core.metrics import Metrics

UNMATCHED = ("none", "unmatched")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STREAM_TYPES = (b"text/event-stream", b"application/x-ndjson")


def dialect_of(route: Any) -> str:
    """`native` for roost.api.native.chat, `ui` for roost.api.ui; `other` outside roost.api."""
    endpoint = getattr(route, "endpoint", None)
    module = getattr(endpoint, "__module__", None) or type(endpoint).__module__
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["roost", "api"] else "other"


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics, fast_routes: Mapping[str, Any]) -> None:
        """`fast_routes`: path → route of the routes RoostApp serves past the router (which
        is what otherwise tells us the route)."""
        self.app = app
        self.metrics = metrics
        self.fast_routes = dict(fast_routes)
        self._routes: _RouteIndex | None = None
        # Children by label values: labels() takes a lock and builds a key each call.
        self._children: dict[tuple[str, str, str, int], tuple[Counter, Histogram]] = {}

    def _route_labels(self, scope: Scope) -> tuple[str, str]:
        if self._routes is None:
            self._routes = _RouteIndex(getattr(scope.get("app"), "routes", ()))
        route = scope.get("route") or self.fast_routes.get(scope["path"])
        return self._routes.labels(route, scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the error middleware answers when the app raises first
        streaming: str | None = None

        async def watch(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                if _is_stream(message.get("headers", ())):
                    streaming = self._route_labels(scope)[0]
                    self.metrics.open_streams.labels(streaming).inc()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if streaming is not None:
                self.metrics.open_streams.labels(streaming).dec()
            method = scope["method"] if scope["method"] in METHODS else "other"
            count, seconds = self._child(*self._route_labels(scope), method, status)
            count.inc()
            seconds.observe(time.perf_counter() - started)

    def _child(
        self, dialect: str, route: str, method: str, status: int
    ) -> tuple[Counter, Histogram]:
        key = (dialect, route, method, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.metrics.requests.labels(dialect, route, method, str(status)),
                self.metrics.request_seconds.labels(dialect, route),
            )
        return found

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        opened: str | None = None

        async def watch(message: Message) -> None:
            nonlocal opened
            if message["type"] == "websocket.accept" and opened is None:
                opened = self._route_labels(scope)[0]
                self.metrics.open_websockets.labels(opened).inc()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if opened is not None:
                self.metrics.open_websockets.labels(opened).dec()


class _RouteIndex:
    """The app's routes with their whole path templates and dialects.

    FastAPI keeps included routers nested: the route the router puts in the scope knows
    only its own part of the path (`/models` of `/v1/models`), and a WebSocket or a request
    refused before routing has no route in the scope at all; those are found here by path.
    """

    def __init__(self, routes: Any) -> None:
        self._routes = routes
        self._build()

    def _build(self) -> None:
        self._by_route: dict[int, tuple[str, str]] = {}
        self._patterns: list[tuple[re.Pattern[str], frozenset[str], tuple[str, str]]] = []
        for context in iter_route_contexts(self._routes):
            route, template = context.original_route, str(context.path_format or "")
            if not template:
                continue
            labels = (dialect_of(route), template)
            self._by_route[id(route)] = labels
            socket = isinstance(route, WebSocketRoute)
            kinds = frozenset({"websocket"} if socket else context.methods or ())
            self._patterns.append((compile_path(template)[0], kinds, labels))

    def labels(self, route: Any, scope: Scope) -> tuple[str, str]:
        if route is None:
            return self._match(scope)
        found = self._by_route.get(id(route))
        if found is None:
            self._build()  # a route added since (tests do)
            found = self._by_route.setdefault(
                id(route), (dialect_of(route), str(getattr(route, "path", "unknown")))
            )
        return found

    def _match(self, scope: Scope) -> tuple[str, str]:
        kind = "websocket" if scope["type"] == "websocket" else scope["method"]
        for pattern, kinds, labels in self._patterns:
            if kind in kinds and pattern.match(scope["path"]):
                return labels
        return UNMATCHED


def _is_stream(headers: Any) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return bool(value.startswith(_STREAM_TYPES))
    return False
