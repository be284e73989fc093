"""The app, with its hottest route served past FastAPI's own per-request layers.

A request to a fast route (today: POST /v1/chat/completions, the relay whose added
latency is a target) goes through the same middleware as every request — the error
catcher, the Host and rate guards, the body bound, CORS, the exception handlers — built
from the app's own lists, but skips FastAPI's telemetry and body-limit wrappers, its exit
stack and the router (benchmarks/proxy_overhead.py: a request that finds the process idle
runs on cold caches, so every layer costs twice). Anything else about such a request
(another method, a mount under a root path) goes the usual way, to the same route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class RoostApp(FastAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fast_routes: dict[str, ASGIApp] = {}
        self._fast_stacks: dict[str, ASGIApp] = {}

    def add_fast_route(self, path: str, endpoint: ASGIApp) -> None:
        """`endpoint` serves POST `path` (also a route in the router, for the rest)."""
        self._fast_routes[path] = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and scope["path"] in self._fast_routes
        ):
            scope["app"] = self
            stack = self._fast_stacks.get(scope["path"])
            if stack is None:  # built on first use, as Starlette builds its own
                stack = self._fast_stacks[scope["path"]] = self._stack(scope["path"])
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _stack(self, path: str) -> ASGIApp:
        error_handler = None
        handlers: dict[Any, Any] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        app: ASGIApp = ExceptionMiddleware(
            self._fast_routes[path], handlers=handlers, debug=self.debug
        )
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)
