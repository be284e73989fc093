"""Conversations for clients that resend the whole history (services/threads.py)."""

from __future__ import annotations

from roost.core.chat import ChatMessage, ToolCallChunk, ToolSpec
from roost.core.events import TurnDone
from roost.core.records import User
from roost.providers.base import Finish
from roost.providers.scripted import reply
from roost.services.completions import Completion, CompletionRequest
from tests.conftest import Env

U = "user"
A = "assistant"


async def _turn(env: Env, user: User, messages: list[ChatMessage], **kw: object) -> Completion:
    request = CompletionRequest(messages, thread="test", **kw)  # type: ignore[arg-type]
    completion = await env.services.completions.start(user, request)
    async for _ in completion.events():
        pass
    return completion


async def _contents(env: Env, user: User, session_id: str | None) -> list[tuple[str, str]]:
    assert session_id is not None
    _, messages = await env.services.conversations.with_messages(user, session_id)
    return [(m.role, m.content) for m in messages]


async def test_a_resent_history_continues_its_conversation(env: Env) -> None:
    user = env.services.auth.default_user
    system = ChatMessage("system", "be brief")
    first = await _turn(env, user, [system, ChatMessage(U, "my locker is 4512")])
    assert first.session_id is not None
    history = [
        system,
        ChatMessage(U, "my locker is 4512"),
        ChatMessage(A, "you said: my locker is 4512"),
    ]
    second = await _turn(env, user, [*history, ChatMessage(U, "which locker?")])
    assert second.session_id == first.session_id
    assert await _contents(env, user, first.session_id) == [
        (U, "my locker is 4512"),
        (A, "you said: my locker is 4512"),
        (U, "which locker?"),
        (A, "you said: which locker?"),
    ]
    # The model saw what the client sent, the system prompt included.
    assert env.provider.requests[-1].messages[0].content == "be brief"


async def test_conversations_that_began_alike_are_told_apart_by_their_replies(env: Env) -> None:
    user = env.services.auth.default_user
    env.scripts.queue.extend([reply("Hello from one"), reply("Hello from two")])
    one = await _turn(env, user, [ChatMessage(U, "hi")])
    two = await _turn(env, user, [ChatMessage(U, "hi")])
    assert one.session_id != two.session_id
    again = await _turn(
        env, user, [ChatMessage(U, "hi"), ChatMessage(A, "Hello from one"), ChatMessage(U, "x")]
    )
    assert again.session_id == one.session_id
    # Whitespace the client trimmed does not matter; a reply it edited is a new branch.
    trimmed = await _turn(
        env,
        user,
        [ChatMessage(U, "hi"), ChatMessage(A, "  Hello from two\n"), ChatMessage(U, "y")],
    )
    assert trimmed.session_id == two.session_id
    edited = await _turn(
        env, user, [ChatMessage(U, "hi"), ChatMessage(A, "Hello, edited"), ChatMessage(U, "z")]
    )
    assert edited.session_id not in (one.session_id, two.session_id)
    assert await _contents(env, user, edited.session_id) == [
        (U, "hi"),
        (A, "Hello, edited"),
        (U, "z"),
        (A, "you said: z"),
    ]


async def test_another_users_history_is_never_continued(env: Env) -> None:
    alice = env.services.auth.default_user
    bob = await env.services.users.create("bob")
    first = await _turn(env, alice, [ChatMessage(U, "secret 77")])
    history = [ChatMessage(U, "secret 77"), ChatMessage(A, "you said: secret 77")]
    bobs = await _turn(env, bob, [*history, ChatMessage(U, "and?")])
    assert bobs.session_id != first.session_id
    assert len(await _contents(env, alice, first.session_id)) == 2


async def test_tool_calls_and_results_are_kept_in_the_conversation(env: Env) -> None:
    user = env.services.auth.default_user
    tool = ToolSpec("weather", "the weather", {"type": "object", "properties": {}})
    env.scripts.queue.extend(
        [
            [ToolCallChunk("c1", "weather", {"city": "Oslo"}), Finish("tool_calls")],
            reply("It is 3 C."),
        ]
    )
    asked = [ChatMessage(U, "weather in Oslo?")]
    first = await _turn(env, user, asked, tools=(tool,))
    called = ChatMessage(A, "", tool_calls=(ToolCallChunk("c1", "weather", {"city": "Oslo"}),))
    result = ChatMessage("tool", "3 C", tool_call_id="c1", name="weather")
    second = await _turn(env, user, [*asked, called, result], tools=(tool,))
    assert second.session_id == first.session_id
    _, stored = await env.services.conversations.with_messages(user, str(first.session_id))
    assert [(m.role, m.content) for m in stored] == [
        (U, "weather in Oslo?"),
        (A, ""),
        ("tool", "3 C"),
        (A, "It is 3 C."),
    ]
    assert stored[1].tool_calls[0]["name"] == "weather"
    assert stored[2].tool_calls == [{"id": "c1", "name": "weather"}]


async def test_an_assistant_prefill_is_not_kept(env: Env) -> None:
    user = env.services.auth.default_user
    completion = await _turn(env, user, [ChatMessage(U, "hi"), ChatMessage(A, "Sure,")])
    assert completion.session_id is None
    sessions, _ = await env.services.conversations.list(user)
    assert sessions == []


async def test_a_history_from_elsewhere_becomes_one_new_conversation(env: Env) -> None:
    user = env.services.auth.default_user
    history = [ChatMessage(U, "a"), ChatMessage(A, "b"), ChatMessage(U, "c")]
    completion = await _turn(env, user, history)
    assert await _contents(env, user, completion.session_id) == [
        (U, "a"),
        (A, "b"),
        (U, "c"),
        (A, "you said: c"),
    ]


async def test_without_thread_nothing_is_stored(env: Env) -> None:
    user = env.services.auth.default_user
    completion = await env.services.completions.start(
        user, CompletionRequest([ChatMessage(U, "hi")])
    )
    events = [e async for e in completion.events()]
    assert isinstance(events[-1], TurnDone)
    assert completion.session_id is None
    sessions, _ = await env.services.conversations.list(user)
    assert sessions == []


async def test_kept_turns_record_no_stream_their_clients_could_not_resume(env: Env) -> None:
    from sqlalchemy import func, select

    from roost.storage.tables import streams

    user = env.services.auth.default_user
    kept = await _turn(env, user, [ChatMessage(U, "hi")], resumable=False)
    assert kept.session_id is not None
    async with env.services.database.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(streams))).scalar()
    assert count == 0
    resumable = await _turn(env, user, [ChatMessage(U, "again")])  # /v1 with a session
    assert resumable.session_id is not None
    async with env.services.database.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(streams))).scalar()
    assert count == 1
