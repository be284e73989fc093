"""Conversations for clients that resend the whole history every time (Ollama, Anthropic).

Such a client keeps the conversation itself and sends all of it with each new message;
roost keeps it too, so it shows in the sessions list, the UI and search like any other.
Each turn records a digest of the messages it was asked with. The next request of the
same conversation is that history, the reply, then the new messages: its history minus
the reply finds the digest, and the reply the client echoes must equal the one stored
last, which tells apart conversations that began alike ("hi"). A history found nowhere
(a client that started elsewhere, or edited an earlier message) becomes a new
conversation holding all of it; an edit is a new branch, the old one is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from roost.core.chat import ChatMessage
from roost.core.errors import NotFound
from roost.core.records import Conversation, Message, User

log = logging.getLogger(__name__)
_CANDIDATES = 4  # conversations asked with one digest that are worth comparing replies of
_NEW_ROLES = ("user", "tool")  # what a client adds after a reply


class ThreadStore(Protocol):
    async def candidates(self, user_id: str, dialect: str, key: str, limit: int) -> list[str]: ...

    async def remember(self, user_id: str, dialect: str, key: str, public_id: str) -> None: ...


class ConversationReader(Protocol):
    async def with_messages(
        self, user: User, public_id: str, *, limit: int | None = None
    ) -> tuple[Conversation, list[Message]]: ...


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a request's exchange goes: `session_id` None is a new conversation; the
    last `new_messages` of the request's messages are stored (the last starts the turn)."""

    session_id: str | None
    new_messages: int
    key: str  # the digest this turn records once it starts


def _arguments(value: Any) -> Any:
    if isinstance(value, str):  # a JSON string (OpenAI style) or an object (Ollama style)
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _canonical(message: ChatMessage) -> list[Any]:
    calls = [[c.name, _arguments(c.arguments)] for c in message.tool_calls]
    return [message.role, " ".join(message.content.split()), calls]


def digest(messages: list[ChatMessage]) -> str:
    """A digest of what the messages say, blind to whitespace, call ids and key order."""
    text = json.dumps([_canonical(m) for m in messages], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _same_reply(stored: Message, echoed: ChatMessage) -> bool:
    if stored.role != "assistant":
        return False
    names = [str(c.get("name")) for c in stored.tool_calls]
    return " ".join(stored.content.split()) == " ".join(echoed.content.split()) and names == [
        c.name for c in echoed.tool_calls
    ]


class Threads:
    def __init__(self, store: ThreadStore, conversations: ConversationReader) -> None:
        self._store = store
        self._conversations = conversations

    async def locate(
        self, user: User, dialect: str, messages: list[ChatMessage]
    ) -> Placement | None:
        """Where to keep this request's exchange; None when it cannot be kept (the last
        message is not a new user message or tool result: an assistant prefill)."""
        body = [m for m in messages if m.role != "system"]
        new = 0
        while new < len(body) and body[len(body) - 1 - new].role in _NEW_ROLES:
            new += 1
        if new == 0:
            return None
        key = digest(body)
        head = body[: len(body) - new]
        if not head:
            return Placement(None, new, key)
        reply, asked = head[-1], head[:-1]
        for public_id in await self._store.candidates(user.id, dialect, digest(asked), _CANDIDATES):
            try:
                _, last = await self._conversations.with_messages(user, public_id, limit=1)
            except NotFound:  # deleted since
                continue
            if last and _same_reply(last[-1], reply):
                return Placement(public_id, new, key)
        return Placement(None, len(body), key)

    async def remember(
        self, user: User, dialect: str, placement: Placement, session_id: str
    ) -> None:
        """Record the turn's digest; a failure only costs the next request a new
        conversation (logged), never the turn."""
        try:
            await self._store.remember(user.id, dialect, placement.key, session_id)
        except Exception:
            log.warning("conversation %s: its history not recorded", session_id, exc_info=True)
