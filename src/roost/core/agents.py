"""Records of MemGPT-style agents: the agent with its core memory, its messages (recall
memory), archival passages, and named library items (humans, personas, presets, tools)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Agent:
    id: str  # public UUID
    key: int  # internal row id
    user_id: str
    name: str
    preset: str
    model: str | None  # None: the configured default at run time
    system: str
    persona: str
    human: str
    persona_name: str | None
    human_name: str | None
    tools: list[str]
    meta: dict[str, Any]
    summary: str | None
    context_from: int  # messages with a lower seq are out of the context window
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewAgentMessage:
    role: str  # system | user | assistant | tool
    text: str
    id: str  # public UUID, chosen before storing so events can name it
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class AgentMessage:
    id: str  # public UUID
    seq: int  # internal, increasing: order and context window
    agent_id: str
    user_id: str
    role: str
    text: str
    created_at: datetime
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    id: str  # public UUID
    agent_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LibraryItem:
    """A user's human, persona, preset or tool registration (`data`: the kind's fields)."""

    id: str
    user_id: str | None  # None: built into roost
    kind: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
