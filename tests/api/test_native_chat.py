"""POST /api/chat and /api/chat/stream with the scripted model: shapes, errors, storage."""

from __future__ import annotations

from roost.core.errors import ProviderError
from roost.providers.base import Finish, TextChunk, UsageChunk
from roost.providers.scripted import reply
from tests.conftest import Env, sse_events


async def test_health_is_public_and_status_needs_a_key(env: Env) -> None:
    health = await env.client.get("/health", headers={"X-API-Key": ""})
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    anonymous = await env.client.get("/api/status", headers={"X-API-Key": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    status = (await env.client.get("/api/status")).json()
    assert set(status) == {"version", "uptime_seconds", "model", "memory", "heartbeat", "models"}
    assert status["model"] == "scripted"
    # The two templates are indexed; search is keyword-only (no embedding model yet).
    assert status["memory"] == {"files_indexed": 2, "chunks": 2, "search": "keyword"}
    assert status["heartbeat"]["enabled"] is False


async def test_chat_answers_and_stores_the_turn(env: Env) -> None:
    env.scripts.queue.append(reply("The capital of France is Paris.", prompt_tokens=45))
    response = await env.client.post(
        "/api/chat", json={"message": "What is the capital of France?"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["response"] == "The capital of France is Paris."
    assert body["model"] == "scripted"
    assert body["tokens"] == {"prompt": 45, "completion": 6, "total": 51}
    assert body["tools_used"] == []
    session = (await env.client.get(f"/api/sessions/{body['session_id']}")).json()
    assert [(m["role"], m["content"]) for m in session["messages"]] == [
        ("user", "What is the capital of France?"),
        ("assistant", "The capital of France is Paris."),
    ]
    assert session["messages"][1]["tokens"]["total"] == 51


async def test_second_turn_sends_the_first_to_the_model(env: Env) -> None:
    first = (await env.client.post("/api/chat", json={"message": "My name is Ada."})).json()
    await env.client.post(
        "/api/chat", json={"message": "What is my name?", "session_id": first["session_id"]}
    )
    sent = env.provider.requests[-1].messages
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1].content == "My name is Ada."
    assert sent[2].content == "you said: My name is Ada."


async def test_stream_is_sse_with_session_content_done(env: Env) -> None:
    env.scripts.queue.append(reply("Hello there friend", prompt_tokens=7))
    async with env.client.stream("POST", "/api/chat/stream", json={"message": "Hi"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        body = (await response.aread()).decode()
    events = sse_events(body)
    assert events[0]["type"] == "session"
    deltas = [e["delta"] for e in events if isinstance(e, dict) and e["type"] == "content"]
    assert deltas == ["Hello", " there", " friend"]
    done = events[-2]
    assert done["type"] == "done"
    assert done["tokens"] == {"prompt": 7, "completion": 3, "total": 10}
    assert events[-1] == "[DONE]"


async def test_stream_error_is_an_event_and_recorded(env: Env) -> None:
    env.scripts.queue.append([TextChunk("partial"), ProviderError("upstream refused")])
    async with env.client.stream("POST", "/api/chat/stream", json={"message": "Hi"}) as response:
        body = (await response.aread()).decode()
    events = sse_events(body)
    assert events[-2] == {
        "type": "error",
        "error": {"code": "provider_error", "message": "upstream refused"},
    }
    assert events[-1] == "[DONE]"
    session = (await env.client.get(f"/api/sessions/{events[0]['session_id']}")).json()
    assert session["messages"][-1]["error"] == "provider_error: upstream refused"
    assert session["messages"][-1]["content"] == "partial"
    # The conversation stays usable after a failure.
    again = await env.client.post(
        "/api/chat", json={"message": "again", "session_id": events[0]["session_id"]}
    )
    assert again.status_code == 200


async def test_provider_failure_is_502_in_the_envelope(env: Env) -> None:
    env.scripts.queue.append([ProviderError("model server refused the connection")])
    response = await env.client.post("/api/chat", json={"message": "Hi"})
    assert response.status_code == 502
    assert response.json() == {
        "error": {"code": "provider_error", "message": "model server refused the connection"}
    }


async def test_finish_reason_and_usage_come_from_the_provider(env: Env) -> None:
    env.scripts.queue.append([TextChunk("cut"), UsageChunk(3, 1), Finish("length")])
    async with env.client.stream("POST", "/api/chat/stream", json={"message": "Hi"}) as response:
        events = sse_events((await response.aread()).decode())
    assert events[-2]["finish_reason"] == "length"


async def test_unknown_session_and_model_are_404(env: Env) -> None:
    missing = await env.client.post("/api/chat", json={"message": "Hi", "session_id": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    model = await env.client.post("/api/chat", json={"message": "Hi", "model": "gpt-9"})
    assert model.status_code == 404
    assert (await env.client.get("/api/sessions")).json()["sessions"] == []


async def test_quiet_streams_get_keepalive_comments(env: Env) -> None:
    env.services.settings.limits.sse_keepalive_seconds = 0.05
    env.scripts.queue.append([0.3, *reply("late")])
    async with env.client.stream("POST", "/api/chat/stream", json={"message": "Hi"}) as response:
        body = (await response.aread()).decode()
    assert body.count(": keep-alive\n\n") >= 2
    assert sse_events(body)[-1] == "[DONE]"
