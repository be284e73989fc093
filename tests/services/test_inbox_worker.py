"""The delivery worker after a crash: each window a SIGKILL can leave, built by hand in the
database, then a fresh server. (tests/e2e/test_inbox_sigkill.py kills a real one.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from roost.config import QueueSettings, Settings
from roost.core.records import Conversation, User
from roost.services.conversations import ConversationService
from roost.services.inbox.worker import backoff
from roost.storage import ConversationRepository, Database, MessageRepository, UserRepository
from roost.storage.inbox import InboxRepository
from tests.api.inbox_helpers import Steered, answered, queue_of
from tests.conftest import running


@dataclass
class Store:
    user: User
    convo: Conversation
    inbox: InboxRepository
    messages: MessageRepository


@asynccontextmanager
async def crashed_state(settings: Settings) -> AsyncIterator[Store]:
    """The database as a killed server left it: set up, then nothing runs on it."""
    async with running(settings):
        pass  # migrate and create the default user
    db = Database(settings.db_url)
    await db.connect()
    try:
        user = await UserRepository(db).get_by_name("default")
        assert user is not None
        convo = await ConversationRepository(db).create(user.id, "s", title="t")
        yield Store(user, convo, InboxRepository(db), MessageRepository(db))
    finally:
        await db.close()


def contents(messages: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(m["role"], m["content"]) for m in messages]


async def test_killed_before_the_user_message_was_stored(settings: Settings) -> None:
    async with crashed_state(settings) as s:
        item = await s.inbox.add(s.user.id, s.convo.id, "s", "hello", max_open=10)
        assert await s.inbox.claim(item.id)  # then the process died
    async with running(settings, Steered()) as env:
        messages = await answered(env, "s", 1)
        assert contents(messages) == [("user", "hello"), ("assistant", "you said: hello")]


async def test_killed_during_the_model_call(settings: Settings) -> None:
    async with crashed_state(settings) as s:
        first = await s.inbox.add(s.user.id, s.convo.id, "s", "hello", max_open=10)
        await s.inbox.add(s.user.id, s.convo.id, "s", "after", max_open=10)
        assert await s.inbox.claim(first.id)
        await s.messages.append(
            s.user.id, s.convo.id, role="user", content="hello", inbox_id=first.id
        )
    async with running(settings, Steered()) as env:
        messages = await answered(env, "s", 2)
        # The stored user message is reused, not saved twice; order is kept.
        assert contents(messages) == [
            ("user", "hello"),
            ("assistant", "you said: hello"),
            ("user", "after"),
            ("assistant", "you said: after"),
        ]


async def test_killed_after_the_reply_was_written(settings: Settings) -> None:
    async with crashed_state(settings) as s:
        first = await s.inbox.add(s.user.id, s.convo.id, "s", "hello", max_open=10)
        await s.inbox.add(s.user.id, s.convo.id, "s", "after", max_open=10)
        assert await s.inbox.claim(first.id)
        await s.messages.append(
            s.user.id, s.convo.id, role="user", content="hello", inbox_id=first.id
        )
        await s.messages.append(
            s.user.id, s.convo.id, role="assistant", content="the answer", inbox_id=first.id
        )
    async with running(settings, Steered()) as env:
        messages = await answered(env, "s", 2)
        assert contents(messages) == [
            ("user", "hello"),
            ("assistant", "the answer"),  # not asked again
            ("user", "after"),
            ("assistant", "you said: after"),
        ]
        assert env.scripts.tries == {"after": 1}  # type: ignore[attr-defined]


async def test_killed_while_giving_up(settings: Settings) -> None:
    settings.queue.max_attempts = 2
    async with crashed_state(settings) as s:
        item = await s.inbox.add(s.user.id, s.convo.id, "s", "doomed", max_open=10)
        assert await s.inbox.claim(item.id)
        await s.inbox.retry_later(
            item.id, attempts=2, error="provider_error: x", at=item.created_at
        )
        await s.messages.append(
            s.user.id, s.convo.id, role="user", content="doomed", inbox_id=item.id
        )
    async with running(settings, Steered()) as env:
        messages = await answered(env, "s", 1)
        assert contents(messages) == [("user", "doomed"), ("assistant", "")]
        assert messages[1]["error"] == "not answered after 2 attempts: provider_error: x"
        (failed,) = await queue_of(env)
        assert failed["state"] == "failed"
        assert env.scripts.tries == {}  # type: ignore[attr-defined]


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = QueueSettings(retry_backoff=2.0, retry_backoff_max=10.0)
    assert [backoff(settings, n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]


async def test_stamped_ids_get_a_suffix_within_one_second(settings: Settings) -> None:
    async with running(settings) as env:
        service = ConversationService(
            ConversationRepository(env.services.database),
            MessageRepository(env.services.database),
            env.services.providers,
            local_now=lambda: datetime(2024, 1, 15, 10, 30).astimezone(),
        )
        user = env.services.auth.default_user
        made = [(await service.create_stamped(user)).public_id for _ in range(3)]
        assert made == ["2024-01-15-10-30-00", "2024-01-15-10-30-00-2", "2024-01-15-10-30-00-3"]
