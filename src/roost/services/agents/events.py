"""What an agent turn yields, step by step: MemGPT's event kinds, in MemGPT's order.

Each step is the model's one function call: its inner thoughts, the call, the visible
message (send_message only), the function's return; `StepDone` closes the group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roost.core.records import TokenUsage


@dataclass(frozen=True, slots=True)
class AgentThought:
    message_id: str  # the assistant message
    text: str
    date: datetime


@dataclass(frozen=True, slots=True)
class AgentCall:
    message_id: str  # the assistant message
    call_id: str
    name: str
    arguments: dict[str, Any]  # without inner_thoughts
    date: datetime


@dataclass(frozen=True, slots=True)
class AgentSaid:
    message_id: str  # the assistant message
    text: str
    date: datetime


@dataclass(frozen=True, slots=True)
class AgentReturn:
    message_id: str  # the tool message
    call_id: str
    name: str
    output: str
    ok: bool
    date: datetime


@dataclass(frozen=True, slots=True)
class StepDone:
    step: int


@dataclass(frozen=True, slots=True)
class AgentDone:
    usage: TokenUsage
    steps: int


@dataclass(frozen=True, slots=True)
class AgentFailed:
    code: str
    message: str


AgentEvent = AgentThought | AgentCall | AgentSaid | AgentReturn | StepDone | AgentDone | AgentFailed


@dataclass
class StepLog:
    """A step's events, held until its messages are stored, then sent in order."""

    events: list[AgentEvent] = field(default_factory=list)
