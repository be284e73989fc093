"""chat.nvim's POST / inbox, /sessions and /api/queue, with the worker running in-process."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from roost.config import Settings
from tests.api.inbox_helpers import Steered, answered, messages_of, post, queue_of, until
from tests.conftest import ADMIN_PASSWORD, Env, running


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.queue.retry_backoff = 0.02
    settings.queue.max_attempts = 3
    return settings


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with running(settings, Steered()) as value:
        yield value


def pairs(messages: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(m["role"], m["content"]) for m in messages]


async def test_a_posted_message_is_answered(env: Env) -> None:
    response = await env.client.post(
        "/", json={"session": "python-script", "content": "Message from Python script"}
    )
    assert response.status_code == 204
    assert response.content == b""
    messages = await answered(env, "python-script", 1)
    assert pairs(messages) == [
        ("user", "Message from Python script"),
        ("assistant", "you said: Message from Python script"),
    ]
    assert messages[1]["tokens"] is not None


async def test_fifty_messages_are_answered_in_order(env: Env) -> None:
    for n in range(50):
        await post(env, "tight-loop", f"message {n}")
    messages = await answered(env, "tight-loop", 50)
    expected = []
    for n in range(50):
        expected += [("user", f"message {n}"), ("assistant", f"you said: message {n}")]
    assert pairs(messages) == expected


async def test_sessions_proceed_independently(env: Env) -> None:
    await post(env, "stuck", "gate:stuck:first")
    await post(env, "stuck", "after the stuck one")
    for session in ("a", "b", "c", "d"):
        for n in range(8):
            await post(env, session, f"{session}{n}")
    for session in ("a", "b", "c", "d"):
        messages = await answered(env, session, 8)
        assert [c for r, c in pairs(messages) if r == "user"] == [f"{session}{n}" for n in range(8)]
    # Four sessions finished while the first one's model was still busy.
    assert [m["role"] for m in await messages_of(env, "stuck")] == ["user"]
    env.scripts.open("stuck")  # type: ignore[attr-defined]
    stuck = await answered(env, "stuck", 2)
    assert [c for r, c in pairs(stuck) if r == "user"] == [
        "gate:stuck:first",
        "after the stuck one",
    ]


async def test_a_session_busy_with_another_turn_waits(env: Env) -> None:
    created = await env.client.post("/api/sessions", json={"title": "busy"})
    session = created.json()["session_id"]
    user = env.services.auth.default_user
    native = await env.services.turns.start(user, "gate:native:native turn", session_id=session)
    await post(env, session, "queued behind it")
    await asyncio.sleep(0.2)
    (item,) = await queue_of(env)
    assert item["state"] == "pending"  # not even claimed while the other turn runs
    env.scripts.open("native")  # type: ignore[attr-defined]
    await native.result()
    messages = await answered(env, session, 2)
    assert pairs(messages) == [
        ("user", "gate:native:native turn"),
        ("assistant", "you said: gate:native:native turn"),
        ("user", "queued behind it"),
        ("assistant", "you said: queued behind it"),
    ]


async def test_a_failing_turn_is_retried_and_answered_once(env: Env) -> None:
    await post(env, "flaky", "fail:2:try me")
    await post(env, "flaky", "next")
    messages = await answered(env, "flaky", 2)
    # One user message despite three attempts, no error rows, and order kept.
    assert pairs(messages) == [
        ("user", "fail:2:try me"),
        ("assistant", "you said: fail:2:try me"),
        ("user", "next"),
        ("assistant", "you said: next"),
    ]
    assert all(m["error"] is None for m in messages)


async def test_a_message_that_keeps_failing_is_marked_failed(env: Env) -> None:
    await post(env, "doomed", "fail:99:never works")
    await post(env, "doomed", "still answered")

    async def failed() -> list[dict[str, object]]:
        return [q for q in await queue_of(env) if q["state"] == "failed"]

    (item,) = await until(failed)
    assert item["attempts"] == 3
    assert "upstream refused attempt 3" in str(item["error"])
    messages = await answered(env, "doomed", 2)
    assert pairs(messages)[:2] == [("user", "fail:99:never works"), ("assistant", "")]
    assert "not answered after 3 attempts" in messages[1]["error"]
    assert pairs(messages)[2:] == [
        ("user", "still answered"),
        ("assistant", "you said: still answered"),
    ]
    assert env.scripts.tries["fail:99:never works"] == 3  # type: ignore[attr-defined]
    # A failed message can be dismissed from the queue; the conversation keeps its record.
    assert (await env.client.delete(f"/api/queue/{item['id']}")).status_code == 204
    assert await failed() == []
    assert len(await messages_of(env, "doomed")) == 4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "request body is not valid JSON"),
        (b"", "request body is not valid JSON"),
        (b"\xff\xfe", "request body is not valid JSON"),
        (b'["session", "content"]', "request body must be a JSON object"),
        (b'{"content": "hi"}', "missing required field: session"),
        (b'{"session": "s"}', "missing required field: content"),
        (b'{"session": null, "content": "hi"}', "missing required field: session"),
        (b'{"session": 5, "content": "hi"}', "'session' must be a string"),
        (b'{"session": "s", "content": ["hi"]}', "'content' must be a string"),
        (b'{"session": "", "content": "hi"}', "'session' must not be empty"),
        (b'{"session": "s", "content": ""}', "'content' must not be empty"),
        (b'{"session": "s", "content": "  \\n "}', "content must not be empty"),
        (b'{"session": "' + b"x" * 201 + b'", "content": "hi"}', "session must be 1-200"),
    ],
)
async def test_bad_bodies_are_400_and_change_nothing(env: Env, body: bytes, message: str) -> None:
    response = await env.client.post(
        "/", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert (await env.client.get("/sessions")).json() == []
    assert await queue_of(env) == []


async def test_content_longer_than_the_limit_is_400(settings: Settings) -> None:
    settings.limits.max_message_chars = 50
    async with running(settings, Steered()) as env:
        response = await env.client.post("/", json={"session": "s", "content": "x" * 51})
        assert response.status_code == 400
        assert response.json() == {"error": "content is longer than 50 characters"}
        await post(env, "s", "x" * 50)


async def test_a_full_queue_is_429(settings: Settings) -> None:
    settings.queue.max_pending = 2
    async with running(settings, Steered()) as env:
        await post(env, "s", "gate:g:one")
        await post(env, "s", "two")
        response = await env.client.post("/", json={"session": "s", "content": "three"})
        assert response.status_code == 429
        assert "2 unanswered messages" in response.json()["error"]
        env.scripts.open("g")  # type: ignore[attr-defined]
        await answered(env, "s", 2)
        await post(env, "s", "room again")


async def test_keys_are_required(env: Env) -> None:
    body = {"session": "s", "content": "hi"}
    missing = await env.client.post("/", json=body, headers={"X-API-Key": ""})
    wrong = await env.client.post("/", json=body, headers={"X-API-Key": "wrong"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert set(response.json()) == {"error"}
    assert (await env.client.get("/sessions", headers={"X-API-Key": "wrong"})).status_code == 401
    assert (await env.client.get("/api/queue", headers={"X-API-Key": "wrong"})).status_code == 401
    assert (await env.client.get("/sessions")).json() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/"),
        ("DELETE", "/"),
        ("POST", "/sessions"),
        ("DELETE", "/sessions"),
        ("POST", "/session"),
        ("PUT", "/session"),
        ("GET", "/session/new"),
        ("GET", "/nothing-here"),
        ("POST", "/nothing-here"),
    ],
)
async def test_other_methods_and_paths_are_404(env: Env, method: str, path: str) -> None:
    response = await env.client.request(method, path)
    assert response.status_code == 404
    assert "allow" not in response.headers


async def test_sessions_lists_the_callers_ids_from_every_api(env: Env) -> None:
    native = (await env.client.post("/api/sessions")).json()["session_id"]
    await post(env, "python-script", "hello")
    assert (await env.client.get("/sessions")).json() == [native, "python-script"]
    bob = {"X-API-Key": await env.new_user_key("bob")}
    assert (await env.client.get("/sessions", headers=bob)).json() == []
    # Ids are per user: bob's "python-script" is his own session.
    await post(env, "python-script", "bob here", headers=bob)
    assert (await env.client.get("/sessions", headers=bob)).json() == ["python-script"]
    await answered(env, "python-script", 1)
    mine = await messages_of(env, "python-script")
    assert [m["content"] for m in mine if m["role"] == "user"] == ["hello"]


async def test_new_sessions_are_named_by_local_time(env: Env) -> None:
    first = await env.client.post("/session/new")
    second = await env.client.post("/session/new")
    assert first.status_code == second.status_code == 200
    stamp = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"
    assert re.fullmatch(stamp, first.json()["id"])
    assert re.fullmatch(stamp + r"(-2)?", second.json()["id"])
    assert first.json()["id"] != second.json()["id"]
    assert (await env.client.get("/sessions")).json() == [first.json()["id"], second.json()["id"]]


async def test_queue_lists_and_deletes_pending_messages(env: Env) -> None:
    await post(env, "q", "gate:q:in the model")
    await until(lambda: _state_is(env, "gate:q:in the model", "delivering"))
    await post(env, "q", "keep")
    await post(env, "q", "drop")
    items = await queue_of(env)
    assert [(q["content"], q["state"]) for q in items] == [
        ("gate:q:in the model", "delivering"),
        ("keep", "pending"),
        ("drop", "pending"),
    ]
    assert set(items[0]) == {
        "id", "session", "content", "state", "attempts", "error", "created_at", "next_attempt_at"
    }  # fmt: skip
    busy = await env.client.delete(f"/api/queue/{items[0]['id']}")
    assert busy.status_code == 409
    bob = {"X-API-Key": await env.new_user_key("bob")}
    assert await queue_of(env, bob) == []
    assert (await env.client.delete(f"/api/queue/{items[2]['id']}", headers=bob)).status_code == 404
    assert (await env.client.delete(f"/api/queue/{items[2]['id']}")).status_code == 204
    assert (await env.client.delete(f"/api/queue/{items[2]['id']}")).status_code == 404
    for bad in ("abc", "-1", "1.5", "9" * 30):
        assert (await env.client.delete(f"/api/queue/{bad}")).status_code == 404
    env.scripts.open("q")  # type: ignore[attr-defined]
    messages = await answered(env, "q", 2)
    assert [c for r, c in pairs(messages) if r == "user"] == ["gate:q:in the model", "keep"]
    filtered = await env.client.get("/api/queue", params={"session": "q"})
    assert filtered.json() == {"messages": []}
    assert (await env.client.get("/api/queue", params={"session": "nope"})).status_code == 404
    assert (await env.client.get("/api/queue", params={"limit": 0})).status_code == 400


async def _state_is(env: Env, content: str, state: str) -> bool:
    return any(q["content"] == content and q["state"] == state for q in await queue_of(env))


async def test_queued_messages_survive_a_restart(settings: Settings) -> None:
    settings.queue.max_parallel = 1
    async with running(settings, Steered()) as env:
        await post(env, "first", "slow:0.5:occupies the only slot")
        await post(env, "later", "waits for a restart")
        await until(lambda: _state_is(env, "slow:0.5:occupies the only slot", "delivering"))
    async with running(settings, Steered()) as env:
        messages = await answered(env, "later", 1)
        assert pairs(messages) == [
            ("user", "waits for a restart"),
            ("assistant", "you said: waits for a restart"),
        ]
        # The slow one finished while the first server drained its turns: answered once.
        assert len(await messages_of(env, "first")) == 2


async def test_admin_password_and_bearer_work_too(env: Env) -> None:
    headers = {"X-API-Key": "", "Authorization": f"Bearer {ADMIN_PASSWORD}"}
    response = await env.client.post("/", json={"session": "s", "content": "hi"}, headers=headers)
    assert response.status_code == 204
