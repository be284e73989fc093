"""The repositories agents use, and the agent a turn works on (refreshed as it edits)."""

from __future__ import annotations

from dataclasses import dataclass

from roost.core.agents import Agent
from roost.core.errors import InvalidRequest
from roost.services.agents.defaults import CORE_LIMIT
from roost.storage.agent_library import LibraryRepository
from roost.storage.agent_messages import AgentMessageRepository
from roost.storage.agent_passages import PassageRepository
from roost.storage.agents import AgentRepository
from roost.storage.db import Database

BLOCKS = ("persona", "human")
PASSAGE_CHARS = 2000  # archival text is stored in pieces of about this size


@dataclass(frozen=True)
class AgentStore:
    agents: AgentRepository
    messages: AgentMessageRepository
    passages: PassageRepository
    library: LibraryRepository

    @classmethod
    def on(cls, db: Database) -> AgentStore:
        return cls(
            AgentRepository(db),
            AgentMessageRepository(db),
            PassageRepository(db),
            LibraryRepository(db),
        )


def check_block(name: str, value: str) -> str:
    if len(value) > CORE_LIMIT:
        raise InvalidRequest(
            f"{name} is {len(value)} characters; core memory blocks hold at most "
            f"{CORE_LIMIT} characters",
            param=name,
        )
    return value


def split_passage(text: str, size: int = PASSAGE_CHARS) -> list[str]:
    """Long archival text in pieces at paragraph, line or word boundaries."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > size:
        cut = max(text.rfind(sep, 0, size) for sep in ("\n\n", "\n", ". ", " "))
        cut = cut if cut > size // 2 else size
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces


class LiveAgent:
    """The agent as a turn sees it: core memory edits are stored at once and seen by the
    next step's prompt."""

    def __init__(self, store: AgentStore, agent: Agent) -> None:
        self.store = store
        self.agent = agent

    async def set_block(self, name: str, value: str) -> None:
        check_block(name, value)
        updated = await self.store.agents.update(self.agent.user_id, self.agent.id, **{name: value})
        if updated is not None:
            self.agent = updated

    def block(self, name: str) -> str:
        return self.agent.persona if name == "persona" else self.agent.human
