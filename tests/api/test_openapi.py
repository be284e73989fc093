"""/openapi.json: every route of every dialect, its errors in the dialect's own shape, the
streams as text/event-stream, public. The fuzz test (tests/fuzz) checks the answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.routing import Mount, Route, WebSocketRoute

from roost.api.chatnvim.schemas import ChatNvimError
from roost.api.errors import NativeError
from roost.api.kernel2.schemas import Kernel2Error
from roost.api.llamachat.schemas import LlamaChatError
from roost.api.memgpt.schemas import MemGPTError
from roost.api.openai.schemas import ErrorResponse
from tests.conftest import Env

pytestmark = pytest.mark.asyncio


def undocumented(app: FastAPI, document: dict[str, Any]) -> list[str]:
    """Every route the app serves that the document does not describe."""
    paths = document["paths"]
    sockets = {w["path"] for w in document.get("x-websockets", [])}
    missing = []
    for route in iter_route_contexts(app.routes):  # included routers too
        original, path = route.original_route, str(route.path_format)
        if isinstance(original, WebSocketRoute):
            if path not in sockets:
                missing.append(f"WS {path}")
        elif isinstance(original, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method.lower() not in paths.get(path, {}):
                    missing.append(f"{method} {path}")
        elif isinstance(original, Mount):
            missing.append(f"mount {path} (describe it with roost.api.openapi.add_path)")
        else:
            missing.append(f"{type(original).__name__} {path}")
    return missing


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json", headers={"X-API-Key": ""})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_every_route_is_documented(env: Env) -> None:
    document = await _document(env.client)
    assert undocumented(env.app, document) == []
    # and the document holds nothing the app does not serve
    served = {
        str(r.path_format)
        for r in iter_route_contexts(env.app.routes)
        if isinstance(r.original_route, APIRoute | Route)
    }
    assert set(document["paths"]) <= served
    assert {w["path"] for w in document["x-websockets"]} == {"/api/ws"}


async def test_a_route_missing_from_the_document_is_caught(env: Env) -> None:
    document = await _document(env.client)

    async def hidden() -> dict[str, str]:
        return {}

    env.app.router.add_api_route("/api/hidden", hidden, include_in_schema=False)
    env.app.router.add_websocket_route("/api/hidden-ws", hidden)
    assert undocumented(env.app, document) == ["GET /api/hidden", "WS /api/hidden-ws"]


async def test_the_document_is_public_and_the_cdn_pages_are_off(env: Env) -> None:
    anonymous = {"X-API-Key": "", "Authorization": ""}
    assert (await env.client.get("/openapi.json", headers=anonymous)).status_code == 200
    for page in ("/docs", "/redoc"):
        assert (await env.client.get(page)).status_code == 404


ERROR_SHAPES: list[tuple[str, str, type[BaseModel]]] = [
    ("get", "/v1/models", ErrorResponse),
    ("post", "/v1/chat/completions", ErrorResponse),
    ("post", "/api/kernel2/chat", Kernel2Error),
    ("get", "/api/kernel2/roles", Kernel2Error),
    ("post", "/", ChatNvimError),
    ("get", "/sessions", ChatNvimError),
    ("get", "/api/conversations", LlamaChatError),
    ("post", "/api/transcription", LlamaChatError),
    ("get", "/api/agents", MemGPTError),
    ("get", "/admin/users", MemGPTError),
    ("get", "/api/sessions", NativeError),
    ("post", "/api/chat", NativeError),
    ("get", "/api/queue", NativeError),
]


@pytest.mark.parametrize(("method", "path", "model"), ERROR_SHAPES)
async def test_errors_are_documented_and_sent_in_the_dialects_shape(
    env: Env, method: str, path: str, model: type[BaseModel]
) -> None:
    document = await _document(env.client)
    operation = document["paths"][path][method]
    responses = operation["responses"]
    assert "422" not in responses  # roost answers bad input with 400
    ref = f"#/components/schemas/{model.__name__}"
    for status in ("400", "401", "404"):
        assert responses[status]["content"]["application/json"]["schema"] == {"$ref": ref}
    assert operation["security"] == [{"bearer": []}, {"apiKey": []}]
    # and that is what a request without a key gets
    answer = await env.client.request(method, path, headers={"X-API-Key": ""})
    assert answer.status_code == 401
    model.model_validate(answer.json(), strict=True)
    assert set(answer.json()) == set(model.model_fields)


@pytest.mark.parametrize(
    ("path", "json_too"),
    [
        ("/api/chat/stream", False),
        ("/v1/chat/completions", True),
        ("/api/kernel2/chat", True),
        ("/api/agents/{agent_id}/messages", True),
    ],
)
async def test_streams_are_text_event_stream(env: Env, path: str, json_too: bool) -> None:
    content = (await _document(env.client))["paths"][path]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in content
    assert ("application/json" in content) is json_too


async def test_public_routes_have_no_security_and_bodies_read_by_hand_are_described(
    env: Env,
) -> None:
    paths = (await _document(env.client))["paths"]
    for path, method in (("/health", "get"), ("/api/auth", "post"), ("/", "get")):
        assert "security" not in paths[path][method], path
    inbox = paths["/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert inbox["required"] == ["session", "content"]
    upload = paths["/v1/audio/transcriptions"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


async def test_the_abuse_bounds_answers_are_documented(env: Env) -> None:
    # Writes may meet the cross-site check (403); every route but /health the rate limit.
    paths = (await _document(env.client))["paths"]
    assert {"403", "429"} <= set(paths["/api/chat"]["post"]["responses"])
    assert {"403", "429"} <= set(paths["/v1/chat/completions"]["post"]["responses"])
    assert "429" in paths["/api/sessions"]["get"]["responses"]
    assert "403" not in paths["/api/sessions"]["get"]["responses"]
    assert "429" not in paths["/health"]["get"]["responses"]
