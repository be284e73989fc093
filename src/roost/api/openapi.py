"""/openapi.json: FastAPI's generated document, completed with what it cannot see.

FastAPI knows the routes' parameters, bodies and (declared) response models. This adds,
once, when the document is first asked for (never per request):
- every error a route can answer, in the body of the dialect that owns its path (the same
  lookup `api/errors.py` renders with), instead of FastAPI's 422 (roost answers 400);
- the credentials (`Authorization: Bearer` or `X-API-Key`) on the routes that ask for them;
- routes that are not FastAPI operations: the WebSocket endpoints (as `x-websockets`, since
  OpenAPI has no WebSocket operation) and any plain ASGI route added with `add_path`.

`/openapi.json` is public, like `/health`: it describes the software, not anyone's data.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.routing import WebSocketRoute

from roost.api.deps import get_principal
from roost.api.docs import STREAM_MODELS
from roost.api.errors import error_schema_for

REF = "#/components/schemas/{model}"
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key or the password"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
_ERRORS = {
    400: "Invalid request (a bad field, a body that is not JSON, a Host that is not ours)",
    401: "No credentials, or not valid ones (or not an admin's, on admin routes)",
    403: "A browser's cross-site write (its Origin or Sec-Fetch-Site is not this server)",
    404: "No such route or item (another user's id is not found, too)",
    409: "Conflict with the current state (a duplicate name, a busy conversation)",
    413: "The request body is larger than the configured bound",
    429: "Too many requests: try again after `Retry-After` seconds",
    502: "The model (an upstream server, or the embedded model) failed",
    503: "Temporarily unavailable (e.g. the database is locked); try again",
}
# Routes that run a model, and so may answer 502.
MODEL_PATHS = frozenset(
    {
        "/api/chat",
        "/api/chat/stream",
        "/api/heartbeat/run",
        "/api/kernel2/chat",
        "/api/conversations/{conversation_id}/messages",
        "/api/agents/{agent_id}/messages",
        "/api/agents/{agent_id}/archival",
        "/api/memory/search",
        "/api/memory/reindex",
        "/api/transcription",
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/audio/transcriptions",
        "/v1/messages",
        "/v1/messages/count_tokens",  # loads the model to count
    }
)
_READS = frozenset({"get", "head"})

# Routes served outside FastAPI's routing (plain ASGI), described by hand: path → method →
# operation. Whoever adds such a route adds its description here (a test checks).
_OPENAPI_JSON = {
    "tags": ["native"],
    "summary": "This document",
    "responses": {
        "200": {
            "description": "The OpenAPI 3.1 document of every route",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
}
_EXTRA_PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/openapi.json": {
        "get": {**_OPENAPI_JSON, "operationId": "openapi_json_get"},
        "head": {**_OPENAPI_JSON, "operationId": "openapi_json_head"},
    }
}
_WEBSOCKETS: dict[str, str] = {}


def add_path(path: str, method: str, operation: dict[str, Any]) -> None:
    """Describe a route that FastAPI does not see (plain ASGI, matched before routing)."""
    _EXTRA_PATHS.setdefault(path, {})[method.lower()] = operation


def add_websocket(path: str, description: str) -> None:
    """Describe a WebSocket endpoint (listed under `x-websockets`)."""
    _WEBSOCKETS[path] = description


# The dependencies that ask for a key: a route that uses one may answer 401. A dialect
# with its own (api/ollama/auth.py: keyless from loopback when configured) adds it here.
AUTHENTICATING: set[Callable[..., Any]] = {get_principal}


def _uses(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _add_models(schema: dict[str, Any], models: set[type[BaseModel]]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        found = model.model_json_schema(ref_template=REF)
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found


def _error_responses(
    path: str, method: str, authenticated: bool, operation: dict[str, Any]
) -> type[BaseModel]:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # roost answers a bad request with 400, in the dialect's shape
    model = error_schema_for(path)
    statuses = {400, 404, 413, 503}
    if path != "/health":  # every other route is rate limited, known key or not
        statuses.add(429)
    if authenticated:
        statuses.add(401)
    if method not in _READS:
        statuses |= {403, 409}  # 403: the cross-site write check (api/guards.py)
    if path in MODEL_PATHS:
        statuses.add(502)
    for status in sorted(statuses):
        responses.setdefault(
            str(status),
            {
                "description": _ERRORS[status],
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}
                },
            },
        )
    return model


def document(app: FastAPI, declared: Sequence[APIRouter] = ()) -> dict[str, Any]:
    """The whole OpenAPI document of `app` (built once; see `install`). `declared`: the
    FastAPI declarations of plain ASGI routes the app serves, documented, not mounted."""
    routes = [*app.routes, *(route for router in declared for route in router.routes)]
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=routes,
    )
    models: set[type[BaseModel]] = set()
    sockets = dict(_WEBSOCKETS)  # this app's own, not another app's in the same process
    paths: dict[str, Any] = schema.setdefault("paths", {})
    # Included routers are not flattened into app.routes: walk them as FastAPI does.
    for route in iter_route_contexts(routes):
        original, path = route.original_route, route.path_format
        if isinstance(original, WebSocketRoute) and path is not None:
            doc = (original.endpoint.__doc__ or original.name).strip().splitlines()[0]
            sockets.setdefault(path, doc)
        if not isinstance(original, APIRoute) or not route.include_in_schema or path is None:
            continue
        authenticated = any(_uses(route.dependant, call) for call in AUTHENTICATING)
        for method in route.methods or ():
            operation = paths.get(path, {}).get(method.lower())
            if operation is None:
                continue
            models.add(_error_responses(path, method.lower(), authenticated, operation))
            if authenticated:
                operation["security"] = SECURITY
    for path, operations in _EXTRA_PATHS.items():
        for method, operation in operations.items():
            described = copy.deepcopy(operation)
            models.add(_error_responses(path, method, "security" in described, described))
            paths.setdefault(path, {})[method] = described
    _add_models(schema, models | STREAM_MODELS)
    components = schema["components"]
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    schema["x-websockets"] = [
        {"path": path, "description": text} for path, text in sorted(sockets.items())
    ]
    return schema


def install(app: FastAPI, declared: Sequence[APIRouter] = ()) -> None:
    """Serve the completed document at /openapi.json (FastAPI's route, our builder)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, declared)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
