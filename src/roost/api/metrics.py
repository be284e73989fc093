"""GET /metrics in the Prometheus text format: with the admin key on the main listener, or
without a key on the `[metrics]` listener (an address the operator chose for it).

The families are defined in roost.core.metrics; docs/deployment.md lists them.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.api import docs
from roost.api.deps import PrincipalDep, require_admin
from roost.api.errors import NativeError
from roost.core.metrics import Metrics

router = APIRouter(tags=["native"])
_TEXT = "text/plain; version=0.0.4"
_OPENMETRICS = "application/openmetrics-text; version=1.0.0"
_DESCRIPTION = "Prometheus exposition (OpenMetrics when the Accept header asks for it)"


async def exposition(metrics: Metrics, accept: str | None) -> tuple[bytes, str]:
    await metrics.refresh()  # what is read from the database: the inbox's depth
    return metrics.render(accept)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {**docs.text(_TEXT, _DESCRIPTION), **docs.text(_OPENMETRICS, "")}},
        403: {"model": NativeError, "description": "The key is not the admin's"},
    },
)
async def metrics(request: Request, principal: PrincipalDep) -> Response:
    """The server's metrics, for Prometheus: the admin password or an admin user's key."""
    require_admin(principal, "/metrics")
    body, content_type = await exposition(request.app.state.metrics, request.headers.get("accept"))
    return Response(body, media_type=content_type)


def listener(find: Callable[[], Metrics | None]) -> ASGIApp:
    """The ASGI app of the `[metrics]` listener: GET /metrics, nothing else, no key.
    `find`: the server's metrics, None while the app is still being built."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan of its own (roost serve runs the app's), no WebSockets
        found = find()
        if scope["path"] != "/metrics":
            status, error = 404, f"no route for {scope['method']} {scope['path']}"
        elif scope["method"] not in ("GET", "HEAD"):
            status, error = 405, f"{scope['method']} is not allowed on /metrics"
        elif found is None:
            status, error = 503, "roost is starting"
        else:
            accept = _header(scope, b"accept")
            body, content_type = await exposition(found, accept)
            await _send(send, 200, content_type, body, head=scope["method"] == "HEAD")
            return
        payload = {"error": {"code": _CODES[status], "message": error}}
        body = json.dumps(payload, separators=(",", ":")).encode()
        await _send(send, status, "application/json", body)

    return app


_CODES = {404: "not_found", 405: "method_not_allowed", 503: "unavailable"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send(
    send: Send, status: int, content_type: str, body: bytes, *, head: bool = False
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
