"""GET /api/ws in-process: auth, sessions, streamed turns, cancel, approvals, bad input and
the bounded outbox. (tests/e2e/test_ws.py drives a real server over TCP.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from roost import __version__
from roost.api.ws import live_outboxes
from roost.config import Settings
from roost.providers.base import Finish, TextChunk, ToolCallChunk, UsageChunk
from roost.providers.scripted import reply
from tests.api.wsclient import AsgiSocket, Closed, Rejected
from tests.conftest import ADMIN_PASSWORD, Env, running

KEY = {"X-API-Key": ADMIN_PASSWORD}


def socket(env: Env, headers: dict[str, str] | None = KEY, **kwargs: Any) -> AsgiSocket:
    return AsgiSocket(env.app, headers=headers, **kwargs)


async def connected(ws: AsgiSocket) -> dict[str, Any]:
    hello = await ws.receive()
    assert hello["type"] == "connected"
    return hello


async def test_key_in_a_header_or_the_token_parameter(env: Env) -> None:
    for headers, query in (
        ({"X-API-Key": ADMIN_PASSWORD}, ""),
        ({"Authorization": f"Bearer {ADMIN_PASSWORD}"}, ""),
        ({}, f"token={ADMIN_PASSWORD}"),
    ):
        async with socket(env, headers, query=query) as ws:
            assert await ws.receive() == {
                "type": "connected",
                "user": "default",
                "version": __version__,
            }
    alice = await env.new_user_key("alice")
    async with socket(env, {}, query=f"token={alice}") as ws:
        assert (await connected(ws))["user"] == "alice"


async def test_without_required_auth_loopback_clients_need_no_key(settings: Settings) -> None:
    settings.auth.required = False
    async with running(settings) as env, socket(env, {}) as ws:
        assert (await connected(ws))["user"] == "default"


@pytest.mark.parametrize(
    ("headers", "query", "message"),
    [
        ({"X-API-Key": "wrong"}, "", "invalid API key"),
        ({}, "token=wrong", "invalid API key"),
        ({}, "", "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'"),
    ],
)
async def test_a_bad_key_gets_an_error_and_close_1008(
    env: Env, headers: dict[str, str], query: str, message: str
) -> None:
    async with socket(env, headers, query=query) as ws:
        assert await ws.receive() == {
            "type": "error",
            "error": {"code": "unauthorized", "message": message},
        }
        with pytest.raises(Closed) as closed:
            await ws.receive()
    assert closed.value.code == 1008
    assert closed.value.reason == message


async def test_foreign_host_and_foreign_origin_are_refused_at_the_handshake(env: Env) -> None:
    with pytest.raises(Rejected) as host:
        async with socket(env, {**KEY, "host": "evil.example:31327"}):
            pass
    assert host.value.code == 1008
    with pytest.raises(Rejected):
        async with socket(env, {**KEY, "origin": "https://evil.example"}):
            pass
    # roost's own pages (same origin) may connect.
    async with socket(env, {**KEY, "origin": "http://127.0.0.1:31327"}) as ws:
        await connected(ws)


async def test_session_creates_selects_and_refuses_unknown_ids(env: Env) -> None:
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="session")
        created = await ws.receive()
        assert created["type"] == "session"
        assert created["title"] == "New Conversation"
        listed = (await env.client.get("/api/sessions")).json()["sessions"]
        assert [s["session_id"] for s in listed] == [created["session_id"]]

        await ws.send(type="session", session_id=created["session_id"])
        assert (await ws.receive())["session_id"] == created["session_id"]

        await ws.send(type="session", session_id="nope")
        assert await ws.receive() == {
            "type": "error",
            "error": {"code": "not_found", "message": "session 'nope' not found"},
        }
    # Another user's session is not found either.
    bob = await env.new_user_key("bob")
    async with socket(env, {"X-API-Key": bob}) as ws:
        await connected(ws)
        await ws.send(type="session", session_id=created["session_id"])
        assert (await ws.receive())["error"]["code"] == "not_found"


async def test_chat_streams_deltas_then_done_and_saves_the_turn(env: Env) -> None:
    env.scripts.queue.append(reply("Hello there friend", prompt_tokens=7))
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="Hi")
        messages = await ws.receive_until("done")
    session = messages[0]
    assert session["type"] == "session"  # a chat without a session starts one
    deltas = [m["delta"] for m in messages if m["type"] == "content"]
    assert "".join(deltas) == "Hello there friend"
    # Each message of the turn has its event id in the stream (for `resume`).
    assert [m["type"] for m in messages[:2]] == ["session", "stream"]
    stream_id = messages[1]["stream_id"]
    ids = [m["event_id"] for m in messages[1:]]
    assert all(i.startswith(stream_id + ":") for i in ids)
    numbers = [int(i.split(":")[1]) for i in ids]  # deltas waiting together are merged
    assert numbers == sorted(set(numbers))
    assert numbers[0] == 1
    assert messages[-1] == {
        "event_id": f"{stream_id}:6",  # (5 is the usage event, which is not sent)
        "type": "done",
        "session_id": session["session_id"],
        "model": "scripted",
        "finish_reason": "stop",
        "tokens": {"prompt": 7, "completion": 3, "total": 10},
        "tools_used": [],
    }
    stored = (await env.client.get(f"/api/sessions/{session['session_id']}")).json()
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "Hi"),
        ("assistant", "Hello there friend"),
    ]


async def test_tool_calls_are_relayed_as_tool_start(env: Env) -> None:
    env.scripts.queue.append(
        [
            ToolCallChunk("call_1", "memory_search", {"query": "rust"}),
            UsageChunk(3, 1),
            Finish("tool_calls"),
        ]
    )
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="search")
        messages = await ws.receive_until("done")
    assert {"type": "tool_start", "id": "call_1", "name": "memory_search"}.items() <= next(
        m for m in messages if m["type"] == "tool_start"
    ).items()


async def test_cancel_mid_turn_saves_the_partial_reply(env: Env) -> None:
    env.scripts.queue.append([TextChunk("so far"), 30.0, TextChunk(" never")])
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="tell me a long story")
        await ws.receive_until("content")
        # The connection keeps reading while the turn streams.
        await ws.send(type="ping", id=1)
        assert await ws.receive() == {"type": "pong", "id": 1}
        await ws.send(type="cancel")
        done = await ws.receive()
    assert done["type"] == "done"
    assert done["finish_reason"] == "cancelled"
    stored = (await env.client.get(f"/api/sessions/{done['session_id']}")).json()
    assert stored["messages"][-1]["content"] == "so far"


async def test_cancel_before_the_turn_starts_still_answers_once(env: Env) -> None:
    env.scripts.queue.append([0.5, *reply("late")])
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="hi")
        await ws.send(type="cancel")
        messages = await ws.receive_until("done")
        await ws.send(type="cancel")  # nothing running: ignored
        await ws.send(type="ping")
        assert await ws.receive() == {"type": "pong"}
    assert messages[-1]["finish_reason"] == "cancelled"
    assert [m["type"] for m in messages].count("done") == 1


async def test_one_turn_at_a_time_per_connection(env: Env) -> None:
    env.scripts.queue.append([TextChunk("first"), 0.3, Finish("stop")])
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="one")
        await ws.send(type="chat", message="two")
        await ws.send(type="session")
        messages = await ws.receive_until("done")
        errors = [m["error"] for m in messages if m["type"] == "error"]
        assert [e["code"] for e in errors] == ["conflict", "conflict"]
        assert messages[-1]["type"] == "done"
        # Once done, the next chat goes through in the same session.
        await ws.send(type="chat", message="three")
        again = await ws.receive_until("done")
    assert again[-1]["session_id"] == messages[-1]["session_id"]
    stored = (await env.client.get(f"/api/sessions/{again[-1]['session_id']}")).json()
    assert [m["content"] for m in stored["messages"] if m["role"] == "user"] == ["one", "three"]


async def test_reconnecting_continues_the_same_session(env: Env) -> None:
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="My name is Ada.")
        first = await ws.receive_until("done")
    session_id = first[-1]["session_id"]
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="session", session_id=session_id)
        assert (await ws.receive())["session_id"] == session_id
        await ws.send(type="chat", message="What is my name?")
        second = await ws.receive_until("done")
    assert second[-1]["session_id"] == session_id
    assert all(m["type"] != "session" for m in second)  # no new session was made
    sent = env.provider.requests[-1].messages
    assert [m.content for m in sent[1:]] == [
        "My name is Ada.",
        "you said: My name is Ada.",
        "What is my name?",
    ]


async def test_a_turn_finishes_and_is_saved_when_the_client_leaves(env: Env) -> None:
    env.scripts.queue.append([TextChunk("half"), 0.2, TextChunk(" whole"), Finish("stop")])
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="hi")
        session_id = (await ws.receive())["session_id"]
        await ws.receive_until("content")
    await env.services.turns.drain(5)
    stored = (await env.client.get(f"/api/sessions/{session_id}")).json()
    assert stored["messages"][-1]["content"] == "half whole"


async def test_approve_answers_a_pending_approval(env: Env) -> None:
    user = env.services.auth.default_user
    approvals = env.services.approvals
    pending = approvals.open(user, "s1", "call_1", "write_file", {"path": "notes.md"})
    denied = approvals.open(user, "s1", "call_2", "bash", {"command": "ls"})
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="approve", id=pending.id, approve=True)
        assert await ws.receive() == {"type": "approval", "id": pending.id, "approved": True}
        assert (await approvals.wait(pending)).reason == "approved"
        await ws.send(type="approve", id=denied.id, approve=False)
        await ws.receive()
        assert (await approvals.wait(denied)).reason == "denied"
        # Answered ids, unknown ids and a non-boolean answer are errors; the socket lives on.
        await ws.send(type="approve", id=pending.id, approve=True)
        assert (await ws.receive())["error"]["code"] == "not_found"
        await ws.send(type="approve", id=pending.id, approve="yes")
        assert await ws.receive() == {
            "type": "error",
            "error": {
                "code": "invalid_request",
                "message": "'approve': Input should be a valid boolean",
            },
        }
    # Another user cannot answer someone else's approval.
    other = approvals.open(user, "s1", "call_3", "bash", {})
    bob = await env.new_user_key("bob")
    async with socket(env, {"X-API-Key": bob}) as ws:
        await connected(ws)
        await ws.send(type="approve", id=other.id, approve=True)
        assert (await ws.receive())["error"]["code"] == "not_found"
    assert [a.id for a in await approvals.pending(user)] == [other.id]


async def test_bad_messages_get_errors_and_the_connection_stays_usable(env: Env) -> None:
    limit = env.services.settings.limits
    limit.max_message_chars = 1000
    async with socket(env) as ws:
        await connected(ws)
        cases: list[tuple[str, str, str]] = [
            ("{not json", "invalid_request", "message is not valid JSON"),
            ('["chat"]', "invalid_request", "message needs a string 'type'"),
            ('{"type": "dance"}', "invalid_request", "unknown message type 'dance'"),
            ('{"type": "chat"}', "invalid_request", "'message': Field required"),
            ('{"type": "chat", "message": 5}', "invalid_request", "'message': Input should be"),
            ('{"type": "chat", "message": "  "}', "invalid_request", "must not be empty"),
            (
                '{"type": "chat", "message": "' + "x" * 1001 + '"}',
                "invalid_request",
                "message is longer than 1000 characters",
            ),
            (" " * (limit.max_body_bytes + 1), "payload_too_large", "larger than"),
        ]
        for raw, code, message in cases:
            await ws.send_text(raw)
            error = (await ws.receive())["error"]
            assert error["code"] == code, raw[:40]
            assert message in error["message"]
        await ws.send(type="ping")
        assert await ws.receive() == {"type": "pong"}
        await ws.send(type="chat", message="still here")
        assert (await ws.receive_until("done"))[-1]["type"] == "done"
    assert (await env.client.get("/api/sessions")).json()["total"] == 1


async def test_a_failed_turn_is_an_error_message(env: Env) -> None:
    from roost.core.errors import ProviderError

    env.scripts.queue.append([TextChunk("partial"), ProviderError("upstream refused")])
    async with socket(env) as ws:
        await connected(ws)
        await ws.send(type="chat", message="hi")
        messages = await ws.receive_until("error")
        assert messages[-1]["error"] == {"code": "provider_error", "message": "upstream refused"}
        await ws.send(type="chat", message="model?", model="gpt-9")
        assert (await ws.receive())["error"]["code"] == "model_not_found"


async def test_a_slow_reader_gets_merged_deltas_and_the_outbox_stays_bounded(env: Env) -> None:
    words = [f"w{i}" for i in range(3000)]
    script: list[Any] = []
    for i, word in enumerate(words):
        script.append(TextChunk(word if i == 0 else f" {word}"))
        if i % 100 == 99:
            script.append(0.001)  # tokens arrive over time, as from a model
    env.scripts.queue.append([*script, UsageChunk(5, 3000), Finish("stop")])
    async with socket(env, buffer=2) as ws:  # the "socket" holds two messages
        await connected(ws)
        await ws.send(type="chat", message="a long answer, please")
        (outbox,) = [o for o in live_outboxes() if not o.closed]
        for _ in range(500):  # the whole reply is generated while we do not read
            if outbox.merged >= 2990:
                break
            await asyncio.sleep(0.01)
        assert outbox.peak <= outbox.capacity
        assert outbox.merged >= 2990  # nearly every delta joined one already waiting
        messages = await ws.receive_until("done")
    text = "".join(m["delta"] for m in messages if m["type"] == "content")
    assert text == " ".join(words)  # merged, never lost
    assert len([m for m in messages if m["type"] == "content"]) <= 3


async def test_a_client_that_stops_reading_is_disconnected(env: Env) -> None:
    env.services.settings.limits.ws_stall_seconds = 0.2
    env.scripts.queue.append([*[TextChunk(f" {i}") for i in range(50)], 0.5, Finish("stop")])
    ws = socket(env, buffer=1)
    await ws.__aenter__()
    await ws.send(type="chat", message="hi")
    assert ws.task is not None
    await asyncio.wait_for(asyncio.shield(ws.task), 5)  # the server gave up on us
    await env.services.turns.drain(5)
    sessions = (await env.client.get("/api/sessions")).json()["sessions"]
    stored = (await env.client.get(f"/api/sessions/{sessions[0]['session_id']}")).json()
    assert stored["messages"][-1]["content"].endswith(" 49")  # the turn was saved anyway
    assert not [o for o in live_outboxes() if not o.closed]


async def test_write_file_waits_for_approval_over_the_websocket(
    env: Env, settings: Settings
) -> None:
    """The real loop and the real write_file tool: approval_required arrives on the
    socket, the answer goes back on it; denied leaves the file alone."""
    target = settings.home / "workspace" / "ws-note.txt"
    arguments = {"path": "ws-note.txt", "content": "from the socket\n"}
    async with socket(env) as ws:
        await connected(ws)
        for approve in (False, True):
            env.scripts.queue += [
                [
                    ToolCallChunk("c1", "write_file", arguments),
                    UsageChunk(3, 2),
                    Finish("tool_calls"),
                ],
                reply("Ok."),
            ]
            await ws.send(type="chat", message="write it")
            seen = await ws.receive_until("approval_required")
            assert seen[-1]["name"] == "write_file"
            assert seen[-1]["arguments"] == arguments
            assert not target.exists()
            await ws.send(type="approve", id=seen[-1]["id"], approve=approve)
            rest = await ws.receive_until("done")
            kinds = [m["type"] for m in rest]
            assert "approval" in kinds
            assert "tool_end" in kinds
            end = next(m for m in rest if m["type"] == "tool_end")
            assert end["is_error"] is (not approve)
            assert target.exists() is approve
    assert target.read_text() == "from the socket\n"
