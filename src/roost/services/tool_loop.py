"""The model/tool loop of one turn: call the model, run the tools it asks for, repeat.

Each step streams the model's events; each tool call it makes is checked (approval),
run, and its result goes back to the model as a `tool` message. The last allowed step
offers no tools, so a turn always ends with an answer. Every call and result is kept
for the stored reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roost.config import ToolSettings
from roost.core.events import ApprovalRequired, ToolCall, ToolResult, TurnEvent
from roost.core.metrics import Metrics
from roost.core.records import TokenUsage, User
from roost.providers.base import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    GenerationOptions,
    ToolCallChunk,
    ToolChoice,
)
from roost.services.approvals import ApprovalService
from roost.services.generation import Collected, model_events
from roost.services.tools.base import Tool, ToolError, clip
from roost.services.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


@dataclass
class ToolRecord:
    """A call as stored on the reply: what was asked, what came back, and how it went."""

    id: str
    name: str
    arguments: dict[str, Any]
    result: str = ""
    is_error: bool = False
    status: str = "ok"  # ok | error | denied | timeout | unknown_tool | cancelled

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "is_error": self.is_error,
            "status": self.status,
        }


@dataclass
class LoopState:
    out: Collected = field(default_factory=Collected)
    records: list[ToolRecord] = field(default_factory=list)


def _add_usage(total: TokenUsage, step: TokenUsage) -> TokenUsage:
    return TokenUsage(total.prompt + step.prompt, total.completion + step.completion)


class ToolLoop:
    def __init__(
        self,
        registry: ToolRegistry,
        approvals: ApprovalService,
        settings: ToolSettings,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._registry = registry
        self._approvals = approvals
        self._settings = settings  # read at each use: `roost config` changes apply at once

    async def run(
        self,
        user: User,
        session_id: str,
        provider: ChatProvider,
        messages: list[ChatMessage],
        options: GenerationOptions,
        tools: list[Tool],
        put: Callable[[TurnEvent], None],
        state: LoopState,
    ) -> None:
        """Run steps until the model answers without calling a tool (or the steps run out).

        Progress is kept in `state`, so a failure or cancellation leaves what happened.
        """
        specs = tuple(tool.spec for tool in tools)
        by_name = {tool.spec.name: tool for tool in tools}
        out = state.out
        max_steps = self._settings.max_steps
        for step in range(max_steps):
            last = step == max_steps - 1
            choice = ToolChoice("none" if last or not specs else "auto")
            request = ChatRequest(messages, options, specs, choice)
            step_out = Collected()
            try:
                async for event in model_events(provider, request, step_out, self._metrics):
                    if not isinstance(event, ToolCall):
                        put(event)
            finally:
                out.text.extend(step_out.text)
                out.reasoning.extend(step_out.reasoning)
                out.usage = _add_usage(out.usage, step_out.usage)
                out.finish = step_out.finish
            calls = [] if last else step_out.calls
            if not calls:
                return
            messages = [
                *messages,
                ChatMessage(
                    "assistant",
                    step_out.content,
                    tool_calls=tuple(ToolCallChunk(c.id, c.name, c.arguments) for c in calls),
                ),
            ]
            for call in calls:
                out.calls.append(call)
                put(call)  # tool_start
                # Recorded before it runs: a turn cancelled while a call waits for approval
                # still stores the call (as "cancelled").
                record = ToolRecord(call.id, call.name, dict(call.arguments))
                record.is_error, record.status = True, "cancelled"
                state.records.append(record)
                await self._call(user, session_id, by_name, call, record, put)
                put(ToolResult(call.id, call.name, record.result, record.is_error))  # tool_end
                messages.append(
                    ChatMessage("tool", record.result, tool_call_id=call.id, name=call.name)
                )
            out.finish = "stop"

    async def _call(
        self,
        user: User,
        session_id: str,
        tools: dict[str, Tool],
        call: ToolCall,
        record: ToolRecord,
        put: Callable[[TurnEvent], None],
    ) -> None:
        """Run one call (asking for approval when needed) and fill in `record`."""
        tool = tools.get(call.name)
        if tool is None:
            record.result = f"There is no tool named '{call.name}' (available: {', '.join(tools)})."
            record.is_error, record.status = True, "unknown_tool"
            return
        if self._registry.needs_approval(tool):
            approval = self._approvals.open(user, session_id, call.id, call.name, record.arguments)
            put(
                ApprovalRequired(
                    approval.id, call.id, call.name, record.arguments, approval.expires_in
                )
            )
            decision = await self._approvals.wait(approval)
            if not decision.approved:
                why = "denied" if decision.reason == "denied" else "did not answer in time"
                record.result = f"The user {why}: the tool '{call.name}' was not run."
                record.is_error, record.status = True, decision.reason
                return
        try:
            output = await tool.run(self._registry.context_for(user), record.arguments)
        except ToolError as exc:
            record.result, record.is_error, record.status = exc.message, True, "error"
            return
        except Exception:  # a tool's bug is the model's bad luck, not a failed turn
            log.exception("tool %s failed", call.name)
            record.result = f"The tool '{call.name}' failed with an internal error."
            record.is_error, record.status = True, "error"
            return
        record.result = clip(output, self._settings.output_chars)
        record.is_error, record.status = False, "ok"
