"""The isolation matrix: every route of the app, called by user B with user A's ids.

`MATRIX` classifies each (method, path) that `app.routes` has:
- `Owned(dialect, calls)`: the route takes an id; B's calls with A's ids must answer 404 in
  that dialect's own error shape.
- `OwnView(calls)`: the route answers from the caller's own data (lists, creation by a
  client-chosen name): B's calls succeed and show nothing of A's.
- `AdminOnly(calls)`: B (not an admin) is refused, whatever the ids: 401 in MemGPT's shape
  on MemGPT's admin routes, 403 in the native shape on roost's own (`/api/models/pull`).
- `NoIds(reason)`: nothing in it belongs to a user (static files, health, model list).

A route missing from the table fails `unclassified()`, so a new route cannot skip the
matrix. `run_matrix` returns the problems it found rather than asserting, so a test can
also prove it reports a planted regression.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Route, WebSocketRoute

from tests.api.dialect_shapes import error_shape_ok

MARK = "zebra-violet-4417"  # in all of A's content; must never reach B
CALL_SECONDS = 20.0  # an answer that takes longer is a hang
WORD = "violet"  # a word of it to search for (a search echoes its query)


@dataclass(frozen=True)
class Call:
    method: str
    url: str  # a template over the ids: "/api/sessions/{session}"
    json: Any = None
    params: dict[str, str] | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class Owned:
    dialect: str
    calls: tuple[Call, ...]
    own_view: tuple[Call, ...] = ()  # calls on the same route that are B's own view
    status: int = 404  # 400 where the API says so (an unknown previous_response_id)


@dataclass(frozen=True)
class OwnView:
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class AdminOnly:
    calls: tuple[Call, ...]
    dialect: str = "memgpt"
    status: int = 401


@dataclass(frozen=True)
class NoIds:
    reason: str


@dataclass(frozen=True)
class OverWebSocket:
    """/api/ws: ids travel in messages; each (message, expected error code) pair."""

    messages: tuple[dict[str, Any], ...]


Entry = Owned | OwnView | AdminOnly | NoIds | OverWebSocket

# Every conversation id of A, whichever dialect made it: the dialects share conversations.
CONVERSATION_IDS = ("session", "nvim_session", "llama_conversation")


def _naming(value: Any, kind: str) -> Any:
    """The template with `{conv}` made into `{<kind>}`, in strings, dicts and lists."""
    if isinstance(value, str):
        return value.replace("{conv}", "{" + kind + "}")
    if isinstance(value, dict):
        return {k: _naming(v, kind) for k, v in value.items()}
    return value


def each_conversation(method: str, url: str, **kwargs: Any) -> tuple[Call, ...]:
    """The call once for each of A's conversations (`{conv}` in url, json or params)."""
    return tuple(
        Call(method, _naming(url, c), **{k: _naming(v, c) for k, v in kwargs.items()})
        for c in CONVERSATION_IDS
    )


def _c(method: str, url: str, **kwargs: Any) -> tuple[Call, ...]:
    return (Call(method, url, **kwargs),)


_AGENT = "/api/agents/{agent}"
MATRIX: dict[tuple[str, str], Entry] = {
    # --- native (LocalGPT) -----------------------------------------------------------------
    ("GET", "/health"): NoIds("public liveness"),
    ("GET", "/metrics"): NoIds(
        "the server's counters, no user's content; admins only (403 for a user's key: "
        "tests/api/test_metrics.py)"
    ),
    ("GET", "/api/status"): OwnView(_c("GET", "/api/status")),
    ("GET", "/api/models"): NoIds("the configured models are the server's, not a user's"),
    ("GET", "/api/ps"): NoIds(
        "the loaded local models (memory, expiry, slot counts), the server's; no user's "
        "content, visible to every user as in Ollama"
    ),
    ("DELETE", "/api/ps/{name}"): AdminOnly(
        _c("DELETE", "/api/ps/scripted"), dialect="native", status=403
    ),
    # Pulling and removing models: the server's, for admins only (the Hub is never asked).
    ("POST", "/api/models/pull"): AdminOnly(
        _c("POST", "/api/models/pull", json={"model": "hf.co/test/smollm2-gguf:Q4_1"}),
        dialect="native",
        status=403,
    ),
    ("DELETE", "/api/models/{name}"): AdminOnly(
        _c("DELETE", "/api/models/scripted"), dialect="native", status=403
    ),
    ("POST", "/api/chat"): Owned(
        "native",
        each_conversation("POST", "/api/chat", json={"message": "hi", "session_id": "{conv}"}),
    ),
    ("POST", "/api/chat/stream"): Owned(
        "native",
        each_conversation(
            "POST", "/api/chat/stream", json={"message": "hi", "session_id": "{conv}"}
        ),
    ),
    ("POST", "/api/sessions"): OwnView(_c("POST", "/api/sessions", json={"title": "b's"})),
    ("GET", "/api/sessions"): OwnView(_c("GET", "/api/sessions")),
    ("GET", "/api/sessions/{session_id}"): Owned(
        "native", each_conversation("GET", "/api/sessions/{conv}")
    ),
    ("DELETE", "/api/sessions/{session_id}"): Owned(
        "native", each_conversation("DELETE", "/api/sessions/{conv}")
    ),
    ("PATCH", "/api/sessions/{session_id}"): Owned(
        "native", each_conversation("PATCH", "/api/sessions/{conv}", json={"title": "stolen"})
    ),
    ("GET", "/api/memory/search"): OwnView(_c("GET", "/api/memory/search", params={"q": WORD})),
    ("GET", "/api/memory/stats"): OwnView(_c("GET", "/api/memory/stats")),
    ("POST", "/api/memory/reindex"): OwnView(_c("POST", "/api/memory/reindex")),
    ("GET", "/api/memory/files/{path}"): Owned(
        "native", _c("GET", "/api/memory/files/{memory_file}")
    ),
    # B writes a file of the same name in B's own workspace; A's stays as it was.
    ("PUT", "/api/memory/files/{path}"): OwnView(
        _c("PUT", "/api/memory/files/{memory_file}", json={"content": "b's notes"})
    ),
    ("GET", "/api/streams/{stream_id}"): Owned("native", _c("GET", "/api/streams/{stream}")),
    ("GET", "/api/approvals"): OwnView(_c("GET", "/api/approvals")),
    ("POST", "/api/approvals/{approval_id}"): Owned(
        "native", _c("POST", "/api/approvals/{approval}", json={"approve": True})
    ),
    ("GET", "/api/heartbeat/status"): OwnView(_c("GET", "/api/heartbeat/status")),
    ("POST", "/api/heartbeat/run"): OwnView(_c("POST", "/api/heartbeat/run")),
    ("GET", "/api/search"): OwnView(_c("GET", "/api/search", params={"q": WORD})),
    ("WS", "/api/ws"): OverWebSocket(
        (
            {"type": "session", "session_id": "{session}"},
            {"type": "session", "session_id": "{nvim_session}"},
            {"type": "session", "session_id": "{llama_conversation}"},
            {"type": "approve", "id": "{approval}", "approve": True},
        )
    ),
    # --- OpenAI ----------------------------------------------------------------------------
    # metadata.session_id names a session in the caller's own namespace (created if new).
    ("POST", "/v1/chat/completions"): OwnView(
        _c(
            "POST",
            "/v1/chat/completions",
            json={
                "model": "scripted",
                "messages": [{"role": "user", "content": "hi"}],
                "metadata": {"session_id": "{session}"},
            },
        )
    ),
    ("GET", "/v1/models"): NoIds("the configured models"),
    ("GET", "/v1/models/{model_id}"): NoIds("a configured model"),
    ("POST", "/v1/embeddings"): NoIds("stateless"),
    # --- Anthropic -------------------------------------------------------------------------
    # The exchange is kept in the caller's own conversation that the history resends
    # (services/threads.py: looked up by owner), else a new one of theirs.
    ("POST", "/v1/messages"): OwnView(
        _c(
            "POST",
            "/v1/messages",
            json={
                "model": "scripted",
                "max_tokens": 20,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    ),
    ("POST", "/v1/messages/count_tokens"): NoIds("stateless: counts the request's own prompt"),
    ("POST", "/v1/audio/transcriptions"): NoIds("stateless"),
    # --- OpenAI Responses ------------------------------------------------------------------
    # A's response as B's previous_response_id is OpenAI's 400 previous_response_not_found.
    ("POST", "/v1/responses"): Owned(
        "responses",
        _c(
            "POST",
            "/v1/responses",
            json={"model": "scripted", "input": "hi", "previous_response_id": "{response}"},
        ),
        own_view=_c("POST", "/v1/responses", json={"model": "scripted", "input": "b's"}),
        status=400,
    ),
    ("GET", "/v1/responses/{response_id}"): Owned(
        "responses", _c("GET", "/v1/responses/{response}")
    ),
    ("DELETE", "/v1/responses/{response_id}"): Owned(
        "responses", _c("DELETE", "/v1/responses/{response}")
    ),
    ("GET", "/v1/responses/{response_id}/input_items"): Owned(
        "responses", _c("GET", "/v1/responses/{response}/input_items")
    ),
    # --- Ollama ----------------------------------------------------------------------------
    # A chat is kept in the caller's own conversation that its history resends
    # (services/threads.py, looked up by owner), else a new one of theirs.
    ("POST", "/ollama/api/chat"): OwnView(
        _c(
            "POST",
            "/ollama/api/chat",
            json={
                "model": "scripted",
                "stream": False,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    ),
    ("POST", "/ollama/api/generate"): NoIds("stateless: one prompt, nothing kept"),
    ("GET", "/ollama/"): NoIds('public liveness probe: "Ollama is running"'),
    ("HEAD", "/ollama/"): NoIds("public liveness probe"),
    ("GET", "/ollama/api/version"): NoIds("public: the Ollama version roost answers as"),
    ("GET", "/ollama/api/tags"): NoIds("the configured models"),
    ("HEAD", "/ollama/api/version"): NoIds("public: the Ollama version roost answers as"),
    ("HEAD", "/ollama/api/tags"): NoIds("the configured models"),
    ("POST", "/ollama/api/show"): NoIds("a configured model"),
    ("GET", "/ollama/api/ps"): NoIds(
        "the loaded local models, the server's, visible to every user as in Ollama"
    ),
    ("POST", "/ollama/api/embed"): NoIds("stateless"),
    ("POST", "/ollama/api/embeddings"): NoIds("stateless"),
    ("POST", "/ollama/api/pull"): AdminOnly(
        _c("POST", "/ollama/api/pull", json={"model": "hf.co/test/smollm2-gguf:Q4_1"}),
        dialect="ollama",
        status=403,
    ),
    # --- kernel2 (Second-Me) ---------------------------------------------------------------
    ("POST", "/api/kernel2/chat"): Owned(
        "kernel2",
        _c(
            "POST",
            "/api/kernel2/chat",
            json={
                "messages": [{"role": "user", "content": "hi"}],
                "stream": False,
                "metadata": {"role_id": "{role}"},
            },
        ),
    ),
    ("GET", "/api/kernel2/roles"): OwnView(_c("GET", "/api/kernel2/roles")),
    ("POST", "/api/kernel2/roles"): OwnView(
        _c("POST", "/api/kernel2/roles", json={"name": "b-role", "system_prompt": "b"})
    ),
    ("GET", "/api/kernel2/roles/{role_id}"): Owned(
        "kernel2", _c("GET", "/api/kernel2/roles/{role}")
    ),
    ("PUT", "/api/kernel2/roles/{role_id}"): Owned(
        "kernel2", _c("PUT", "/api/kernel2/roles/{role}", json={"name": "stolen"})
    ),
    ("DELETE", "/api/kernel2/roles/{role_id}"): Owned(
        "kernel2", _c("DELETE", "/api/kernel2/roles/{role}")
    ),
    # --- MemGPT ----------------------------------------------------------------------------
    ("GET", "/admin/users"): AdminOnly(_c("GET", "/admin/users")),
    ("POST", "/admin/users"): AdminOnly(_c("POST", "/admin/users", json={})),
    ("DELETE", "/admin/users"): AdminOnly(
        _c("DELETE", "/admin/users", params={"user_id": "{user_a}"})
    ),
    ("POST", "/admin/users/keys"): AdminOnly(
        _c("POST", "/admin/users/keys", json={"user_id": "{user_a}"})
    ),
    ("GET", "/admin/users/keys"): AdminOnly(
        _c("GET", "/admin/users/keys", params={"user_id": "{user_a}"})
    ),
    ("DELETE", "/admin/users/keys"): AdminOnly(
        _c("DELETE", "/admin/users/keys", params={"api_key": "{key_a}"})
    ),
    ("GET", "/api/admin/agents"): AdminOnly(_c("GET", "/api/admin/agents")),
    ("POST", "/api/auth"): OwnView(_c("POST", "/api/auth", json={"password": "{key_b}"})),
    ("GET", "/api/agents"): OwnView(_c("GET", "/api/agents")),
    ("POST", "/api/agents"): OwnView(
        _c("POST", "/api/agents", json={"config": {"name": "b-agent"}})
    ),
    ("GET", "/api/agents/{agent_id}/config"): Owned("memgpt", _c("GET", _AGENT + "/config")),
    ("PATCH", "/api/agents/{agent_id}/rename"): Owned(
        "memgpt", _c("PATCH", _AGENT + "/rename", json={"agent_name": "stolen"})
    ),
    ("DELETE", "/api/agents/{agent_id}"): Owned("memgpt", _c("DELETE", _AGENT)),
    ("GET", "/api/agents/{agent_id}/memory"): Owned("memgpt", _c("GET", _AGENT + "/memory")),
    ("POST", "/api/agents/{agent_id}/memory"): Owned(
        "memgpt", _c("POST", _AGENT + "/memory", json={"human": "stolen"})
    ),
    ("GET", "/api/agents/{agent_id}/archival/all"): Owned(
        "memgpt", _c("GET", _AGENT + "/archival/all")
    ),
    ("GET", "/api/agents/{agent_id}/archival"): Owned("memgpt", _c("GET", _AGENT + "/archival")),
    ("POST", "/api/agents/{agent_id}/archival"): Owned(
        "memgpt", _c("POST", _AGENT + "/archival", json={"content": "planted"})
    ),
    ("DELETE", "/api/agents/{agent_id}/archival"): Owned(
        "memgpt",
        (
            Call("DELETE", _AGENT + "/archival", params={"id": "{passage}"}),
            # A's passage through B's own agent: still not B's to delete.
            Call("DELETE", "/api/agents/{agent_b}/archival", params={"id": "{passage}"}),
        ),
    ),
    ("POST", "/api/agents/{agent_id}/messages"): Owned(
        "memgpt",
        (
            Call("POST", _AGENT + "/messages", json={"message": "hi"}),
            Call("POST", _AGENT + "/messages", json={"message": "hi", "stream_steps": True}),
        ),
    ),
    ("GET", "/api/agents/{agent_id}/messages"): Owned(
        "memgpt", _c("GET", _AGENT + "/messages", params={"start": "0", "count": "10"})
    ),
    ("GET", "/api/agents/{agent_id}/messages-cursor"): Owned(
        "memgpt", _c("GET", _AGENT + "/messages-cursor")
    ),
    ("GET", "/api/humans"): OwnView(_c("GET", "/api/humans")),
    ("POST", "/api/humans"): OwnView(
        _c("POST", "/api/humans", json={"name": "b-human", "text": "b"})
    ),
    ("GET", "/api/humans/{name}"): Owned("memgpt", _c("GET", "/api/humans/{human}")),
    ("DELETE", "/api/humans/{name}"): Owned("memgpt", _c("DELETE", "/api/humans/{human}")),
    ("GET", "/api/personas"): OwnView(_c("GET", "/api/personas")),
    ("POST", "/api/personas"): OwnView(
        _c("POST", "/api/personas", json={"name": "b-persona", "text": "b"})
    ),
    ("GET", "/api/personas/{name}"): Owned("memgpt", _c("GET", "/api/personas/{persona}")),
    ("DELETE", "/api/personas/{name}"): Owned("memgpt", _c("DELETE", "/api/personas/{persona}")),
    ("GET", "/api/presets"): OwnView(_c("GET", "/api/presets")),
    ("GET", "/api/presets/{name}"): Owned("memgpt", _c("GET", "/api/presets/{preset}")),
    ("POST", "/api/presets"): OwnView(_c("POST", "/api/presets", json={"name": "b-preset"})),
    ("DELETE", "/api/presets/{preset_id}"): Owned("memgpt", _c("DELETE", "/api/presets/{preset}")),
    ("GET", "/api/tools"): OwnView(_c("GET", "/api/tools")),
    ("GET", "/api/tools/{name}"): Owned("memgpt", _c("GET", "/api/tools/{tool}")),
    ("POST", "/api/tools"): OwnView(
        _c("POST", "/api/tools", json={"json_schema": {"name": "b_tool", "parameters": {}}})
    ),
    ("DELETE", "/api/tools/{name}"): Owned("memgpt", _c("DELETE", "/api/tools/{tool}")),
    # --- chat.nvim -------------------------------------------------------------------------
    # POST / names sessions in the caller's own namespace: B's message to "A's" name goes
    # to a session of B's with that name.
    ("POST", "/"): OwnView(_c("POST", "/", json={"session": "{nvim_session}", "content": "b's"})),
    ("POST", "/session/new"): OwnView(_c("POST", "/session/new")),
    ("GET", "/sessions"): OwnView(_c("GET", "/sessions")),
    ("GET", "/session"): Owned(
        "chatnvim", each_conversation("GET", "/session", params={"id": "{conv}"})
    ),
    # Filtered by one of A's sessions: that session is not found, like any of A's ids.
    ("GET", "/api/queue"): Owned(
        "native",
        each_conversation("GET", "/api/queue", params={"session": "{conv}"}),
        own_view=_c("GET", "/api/queue"),
    ),
    ("DELETE", "/api/queue/{item_id}"): Owned("native", _c("DELETE", "/api/queue/{queued}")),
    # --- LlamaChat -------------------------------------------------------------------------
    ("POST", "/api/conversations"): OwnView(_c("POST", "/api/conversations")),
    ("GET", "/api/conversations"): OwnView(_c("GET", "/api/conversations")),
    ("GET", "/api/conversations/{conversation_id}"): Owned(
        "llamachat", each_conversation("GET", "/api/conversations/{conv}")
    ),
    ("POST", "/api/conversations/{conversation_id}/messages"): Owned(
        "llamachat",
        each_conversation("POST", "/api/conversations/{conv}/messages", json={"content": "hi"}),
    ),
    ("POST", "/api/transcription"): NoIds("stateless"),
    # --- the browser UI and FastAPI's own pages ---------------------------------------------
    ("GET", "/"): NoIds("static UI"),
    ("HEAD", "/"): NoIds("static UI"),
    ("GET", "/ui"): NoIds("static UI"),
    ("HEAD", "/ui"): NoIds("static UI"),
    ("GET", "/ui/"): NoIds("static UI"),
    ("HEAD", "/ui/"): NoIds("static UI"),
    ("GET", "/ui/{name}"): NoIds("static UI"),
    ("HEAD", "/ui/{name}"): NoIds("static UI"),
    ("GET", "/openapi.json"): NoIds("the API description"),
    ("HEAD", "/openapi.json"): NoIds("the API description"),
    ("GET", "/docs"): NoIds("the API description"),
    ("HEAD", "/docs"): NoIds("the API description"),
    ("GET", "/docs/oauth2-redirect"): NoIds("the API description"),
    ("HEAD", "/docs/oauth2-redirect"): NoIds("the API description"),
    ("GET", "/redoc"): NoIds("the API description"),
    ("HEAD", "/redoc"): NoIds("the API description"),
}


def _flat_routes(app: FastAPI) -> list[Any]:
    """The app's routes with included routers expanded (newer FastAPI nests them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before 0.16x: app.routes is flat already
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route; path parameters without their converters."""
    found: set[tuple[str, str]] = set()
    for route in _flat_routes(app):
        path = re.sub(r":\w+}", "}", getattr(route, "path", "") or "")
        original = getattr(route, "route", route)
        if isinstance(original, WebSocketRoute):
            found.add(("WS", path))
        elif isinstance(original, Route) and getattr(route, "methods", None):
            found.update((method, path) for method in route.methods)
        else:  # a mount or something new: it must be classified too
            found.add(("?", path or type(original).__name__))
    return found


def unclassified(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(app_routes(app) - set(MATRIX))


# --- checking answers -----------------------------------------------------------------------


def fill(value: Any, ids: dict[str, str]) -> Any:
    """The template with A's ids in it (strings, and strings inside JSON bodies)."""
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill(v, ids) for v in value]
    return value


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    calls: int = 0

    def fail(self, route: tuple[str, str], call: str, why: str) -> None:
        self.problems.append(f"{route[0]} {route[1]} ({call}): {why}")


async def _send(
    client: httpx.AsyncClient, call: Call, ids: dict[str, str], key: str
) -> httpx.Response:
    params = fill(call.params, ids) if call.params else None
    request = client.request(
        call.method,
        fill(call.url, ids),
        json=fill(call.json, ids) if call.json is not None else None,
        params=params,
        headers={"X-API-Key": key},
    )
    try:
        return await asyncio.wait_for(request, CALL_SECONDS)
    except TimeoutError:
        raise AssertionError(
            f"{call.method} {fill(call.url, ids)} {fill(call.json, ids)} hung"
        ) from None


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def _ids_of_a(ids: dict[str, str]) -> list[str]:
    # Short ids (a queue item's "3") would match anything; the others are distinctive.
    return [v for k, v in ids.items() if k not in ("key_b", "agent_b") and len(v) >= 8]


async def run_probes(
    client: httpx.AsyncClient, ids: dict[str, str], key_b: str, report: Report
) -> None:
    """The Owned and AdminOnly entries, as B: 404 (401) in the dialect's shape. A's ids
    may show in an error message (B sent them); A's content never."""
    for route, entry in MATRIX.items():
        if not isinstance(entry, Owned | AdminOnly):
            continue
        dialect, status = (entry.dialect, entry.status)
        for call in entry.calls:
            shown = f"{call.method} {fill(call.url, ids)}"
            response = await _send(client, call, ids, key_b)
            report.calls += 1
            text = response.text
            if MARK in text:
                report.fail(route, shown, f"B sees A's content: {text[:200]}")
            try:
                body = response.json()
            except json.JSONDecodeError:
                body = None
            if response.status_code != status:
                report.fail(route, shown, f"{response.status_code}, not {status}: {text[:200]}")
            elif not error_shape_ok(dialect, status, body):
                report.fail(route, shown, f"not {dialect}'s error shape: {text[:200]}")


async def run_own_views(
    client: httpx.AsyncClient, ids: dict[str, str], key_b: str, report: Report
) -> None:
    """The OwnView entries, as B: they work, and show neither A's content nor A's ids.
    Reads go first: B's writes may name things of B's own like A's (a chat.nvim session
    called by A's session id is B's session of that name)."""
    entries = [(r, e.calls) for r, e in MATRIX.items() if isinstance(e, OwnView)]
    entries += [(r, e.own_view) for r, e in MATRIX.items() if isinstance(e, Owned)]
    for writes in (False, True):
        for route, calls in entries:
            for call in calls:
                if (call.method != "GET") != writes:
                    continue
                shown = f"{call.method} {fill(call.url, ids)}"
                response = await _send(client, call, ids, key_b)
                report.calls += 1
                text = response.text
                if MARK in text:
                    report.fail(route, shown, f"B sees A's content: {text[:200]}")
                if response.status_code >= 300:
                    report.fail(route, shown, f"B's own view: {response.status_code} {text[:200]}")
                elif not writes and (leaked := _leaks(text, _ids_of_a(ids))):
                    report.fail(route, shown, f"B's own view shows A's ids {leaked}")
