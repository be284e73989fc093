"""The turn service without HTTP: background completion, context fitting, serialisation."""

from __future__ import annotations

import asyncio

from roost.config import Settings
from roost.core.events import ContentDelta, TurnDone, TurnFailed, TurnStarted
from roost.providers.base import Finish, TextChunk, UsageChunk
from roost.providers.scripted import reply
from roost.services.turn_recovery import INTERRUPTED
from roost.storage.messages import MessageRepository
from tests.conftest import Env, running


async def test_turn_completes_and_saves_when_nobody_reads(env: Env) -> None:
    env.scripts.queue.append([TextChunk("slow"), 0.05, TextChunk(" answer"), Finish("stop")])
    user = env.services.auth.default_user
    handle = await env.services.turns.start(user, "hello")
    # Read one event, then walk away like a disconnected client.
    events = handle.events()
    assert isinstance(await anext(events), TurnStarted)
    await events.aclose()
    await env.services.turns.drain(5)
    _, messages = await env.services.conversations.with_messages(
        user, handle.conversation.public_id
    )
    assert [m.content for m in messages] == ["hello", "slow answer"]


async def test_turns_in_one_session_run_one_at_a_time_in_order(env: Env) -> None:
    user = env.services.auth.default_user
    env.scripts.queue.extend([[0.05, *reply("first")], reply("second")])
    first = await env.services.turns.start(user, "a")
    second_task = asyncio.create_task(
        env.services.turns.start(user, "b", session_id=first.conversation.public_id)
    )
    await first.result()
    second = await second_task
    await second.result()
    _, messages = await env.services.conversations.with_messages(user, first.conversation.public_id)
    assert [(m.seq, m.role, m.content) for m in messages] == [
        (1, "user", "a"),
        (2, "assistant", "first"),
        (3, "user", "b"),
        (4, "assistant", "second"),
    ]


async def test_long_history_is_cut_to_the_context_window(env: Env) -> None:
    user = env.services.auth.default_user
    word = "lorem "
    first = await env.services.turns.start(user, word * 1500)
    await first.result()
    for _ in range(3):
        handle = await env.services.turns.start(
            user, word * 1500, session_id=first.conversation.public_id
        )
        await handle.result()
    sent = env.provider.requests[-1].messages
    total = await env.provider.count_tokens(sent)
    assert total <= env.provider.context_window
    assert sent[-1].content == word * 1500  # the new message is always kept
    assert sent[0].role == "system"
    assert sent[1].role == "user"  # never starts with an orphaned assistant turn


async def test_a_failing_turn_records_the_error(env: Env) -> None:
    env.scripts.queue.append([TextChunk("half"), RuntimeError("bug in a provider")])
    user = env.services.auth.default_user
    handle = await env.services.turns.start(user, "hi")
    final = await handle.result()
    assert isinstance(final, TurnFailed)
    assert final.code == "internal_error"
    _, messages = await env.services.conversations.with_messages(
        user, handle.conversation.public_id
    )
    assert messages[-1].error == "internal_error: bug in a provider"


async def test_cancel_keeps_what_was_said(env: Env) -> None:
    env.scripts.queue.append([TextChunk("so far"), 5.0, TextChunk("never")])
    user = env.services.auth.default_user
    handle = await env.services.turns.start(user, "hi")
    events = handle.events()
    seen = []
    async for event in events:
        seen.append(event)
        if isinstance(event, ContentDelta):
            handle.cancel()
    final = seen[-1]
    assert isinstance(final, TurnDone)
    assert final.finish_reason == "cancelled"
    assert final.message.content == "so far"


async def test_usage_is_stored_with_the_reply(env: Env) -> None:
    env.scripts.queue.append([TextChunk("x"), UsageChunk(11, 1), Finish("stop")])
    user = env.services.auth.default_user
    handle = await env.services.turns.start(user, "hi")
    final = await handle.result()
    assert isinstance(final, TurnDone)
    assert final.message.usage is not None
    assert (final.message.usage.prompt, final.message.usage.total) == (11, 12)


async def test_a_turn_cancelled_before_it_begins_releases_its_session(env: Env) -> None:
    user = env.services.auth.default_user
    first = await env.services.turns.start(user, "one")
    first.cancel()  # before the task had a chance to run
    assert isinstance(await first.result(), TurnFailed)
    # The session's lock was released: the next turn in it runs.
    second = await env.services.turns.start(user, "two", session_id=first.conversation.public_id)
    assert isinstance(await asyncio.wait_for(second.result(), 10), TurnDone)


async def test_a_turn_cut_by_a_crash_is_recorded_as_interrupted_at_the_next_start(
    settings: Settings,
) -> None:
    async with running(settings) as env:
        user = env.services.auth.default_user
        answered = await env.services.turns.start(user, "answered")
        await answered.result()
        cut = await env.services.conversations.create(user)
        # What a kill -9 between storing the question and the reply leaves behind.
        messages = MessageRepository(env.services.database)
        await messages.append(user.id, cut.id, role="user", content="cut short")
    async with running(settings) as env:
        user = env.services.auth.default_user
        _, rows = await env.services.conversations.with_messages(user, cut.public_id)
        assert [(m.role, m.content, m.error) for m in rows] == [
            ("user", "cut short", None),
            ("assistant", "", INTERRUPTED),
        ]
        _, rows = await env.services.conversations.with_messages(
            user, answered.conversation.public_id
        )
        assert [m.error for m in rows] == [None, None]
        assert await env.services.turns.recover() == 0  # once only
