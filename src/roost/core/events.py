"""The TurnEvent stream: what every turn yields, whatever dialect renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roost.core.records import Message, TokenUsage


@dataclass(frozen=True, slots=True)
class TurnStarted:
    conversation_id: str
    model: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    id: str
    name: str
    output: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ApprovalRequired:
    """A tool call waits for the user's yes or no (POST /api/approvals/{id}, WebSocket)."""

    id: str
    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    expires_in: float = 0.0  # seconds until an unanswered request counts as denied


@dataclass(frozen=True, slots=True)
class Usage:
    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class TurnDone:
    message: Message
    finish_reason: str
    usage: TokenUsage
    tools_used: list[ToolCall] = field(default_factory=list)
    stop_sequence: str | None = None  # the stop string the reply reached, when known


@dataclass(frozen=True, slots=True)
class TurnFailed:
    code: str
    message: str
    retry_after: int | None = None  # seconds, when retrying later may work (a busy model)


TurnEvent = (
    TurnStarted
    | ContentDelta
    | ReasoningDelta
    | ToolCall
    | ToolResult
    | ApprovalRequired
    | Usage
    | TurnDone
    | TurnFailed
)
