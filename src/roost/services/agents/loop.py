"""One message to an agent: model step → function call → (heartbeat → next step)...

Every step asks the model for exactly one function call (tool_choice "required"; on
llama.cpp that is grammar-constrained). The call's `inner_thoughts` (or the model's text
before the call) is the step's internal monologue. The turn continues while a call asks
for a heartbeat or fails, up to `[agents] max_steps`; the last allowed step may only call
send_message, so a turn that runs out of steps still answers the user.

A step's messages are stored before its events are sent: what a client saw is in recall
memory, and a failure mid-step leaves every earlier step stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from roost.config import AgentSettings
from roost.core.agents import NewAgentMessage
from roost.core.clock import utcnow
from roost.core.errors import ProviderError, RoostError
from roost.core.events import ToolCall
from roost.core.ids import new_uuid
from roost.core.metrics import Metrics
from roost.core.records import TokenUsage
from roost.providers.base import ChatProvider, ChatRequest, GenerationOptions, ToolChoice
from roost.services.agents import packing
from roost.services.agents.context import Budget, ContextBuilder
from roost.services.agents.events import (
    AgentCall,
    AgentDone,
    AgentEvent,
    AgentFailed,
    AgentReturn,
    AgentThought,
    StepDone,
    StepLog,
)
from roost.services.agents.store import LiveAgent
from roost.services.agents.tools import (
    COMPACT_SPECS,
    COMPACT_WINDOW,
    INNER_THOUGHTS,
    SPECS,
    AgentTools,
)
from roost.services.generation import Collected, model_events
from roost.services.tools.base import ToolError, clip

log = logging.getLogger(__name__)

CALL_ID_CHARS = 29  # MemGPT's TOOL_CALL_ID_MAX_LEN (OpenAI refuses longer ids)
RETURN_CHARS = 3000  # MemGPT's FUNCTION_RETURN_CHAR_LIMIT


def _arguments_text(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False)


class AgentLoop:
    def __init__(self, settings: AgentSettings, metrics: Metrics | None = None) -> None:
        self._settings = settings  # read at each use: `roost config` changes apply at once
        self._metrics = metrics

    async def run(
        self,
        live: LiveAgent,
        model: str,
        provider: ChatProvider,
        options: GenerationOptions,
        put: Callable[[AgentEvent], None],
    ) -> AgentDone | AgentFailed:
        """Run the steps for the user message already stored; report each step's events."""
        compact = provider.context_window <= COMPACT_WINDOW
        specs = tuple((COMPACT_SPECS if compact else SPECS).values())
        reserve = options.max_tokens or 256
        budget = Budget(provider.context_window, reserve, self._settings.summarize_at)
        context = ContextBuilder(provider, specs, budget, self._metrics)
        usage = TokenUsage()
        steps = 0
        max_steps = self._settings.max_steps
        current = StepLog()
        tools = AgentTools(live, lambda: current)
        try:
            for step in range(max_steps):
                current = StepLog()
                last = step == max_steps - 1
                prompt = await context.build(live)
                choice = ToolChoice("tool", "send_message") if last else ToolChoice("required")
                out = Collected()
                request = ChatRequest(prompt, options, specs, choice)
                async for _ in model_events(provider, request, out, self._metrics):
                    pass
                usage = TokenUsage(
                    usage.prompt + out.usage.prompt, usage.completion + out.usage.completion
                )
                steps += 1
                again = await self._step(live, tools, model, out, current, last)
                for event in current.events:
                    put(event)
                put(StepDone(step))
                if not again:
                    break
        except ProviderError as exc:
            return AgentFailed("provider_error", exc.message)
        except RoostError as exc:
            return AgentFailed(exc.code, exc.message)
        return AgentDone(usage, steps)

    async def _step(
        self,
        live: LiveAgent,
        tools: AgentTools,
        model: str,
        out: Collected,
        current: StepLog,
        last: bool,
    ) -> bool:
        """Run the step's calls and store its messages; True when another step is due."""
        calls = list(out.calls)
        thoughts = ""
        if not calls:
            # A model that answered in plain text (an upstream ignoring tool_choice): its
            # text is what it meant to send.
            calls = [ToolCall(f"call_{new_uuid()}", "send_message", {"message": out.content})]
        else:
            thoughts = out.content.strip() or "".join(out.reasoning).strip()
        message_id = new_uuid()
        tools.current_message_id = message_id
        now = utcnow()
        stored_calls: list[dict[str, Any]] = []
        replies: list[NewAgentMessage] = []
        heartbeat = False
        failed = False
        for call in calls:
            arguments = dict(call.arguments)
            spoken = arguments.pop(INNER_THOUGHTS, None)
            if isinstance(spoken, str) and spoken.strip() and not thoughts:
                thoughts = spoken.strip()
            call_id = call.id[:CALL_ID_CHARS]
            stored_calls.append(
                {
                    "id": call_id,
                    "tool_call_type": "function",
                    "function": {"name": call.name, "arguments": _arguments_text(arguments)},
                }
            )
            current.events.append(AgentCall(message_id, call_id, call.name, arguments, now))
            output, ok = await self._call(tools, call.name, arguments)
            returned_id = new_uuid()
            when = utcnow()
            current.events.append(AgentReturn(returned_id, call_id, call.name, output, ok, when))
            replies.append(
                NewAgentMessage(
                    "tool",
                    packing.function_return(output, ok, when),
                    returned_id,
                    name=call.name,
                    tool_call_id=call_id,
                )
            )
            heartbeat = heartbeat or arguments.get("request_heartbeat") is True
            failed = failed or not ok
        if thoughts:
            current.events.insert(0, AgentThought(message_id, thoughts, now))
        again = (heartbeat or failed) and not last
        assistant = NewAgentMessage(
            "assistant", thoughts, message_id, tool_calls=stored_calls, model=model
        )
        batch = [assistant, *replies]
        if again:
            batch.append(NewAgentMessage("user", packing.heartbeat(failed, utcnow()), new_uuid()))
        await live.store.messages.append(live.agent, batch)
        return again

    async def _call(
        self, tools: AgentTools, name: str, arguments: dict[str, Any]
    ) -> tuple[str, bool]:
        tool = tools.tools.get(name)
        if tool is None:
            return f"No function named {name}", False
        try:
            output = await tool.run(None, arguments)
        except ToolError as exc:
            return f"Error calling function {name}: {exc.message}", False
        except RoostError as exc:  # storage trouble inside a function: the model is told
            return f"Error calling function {name}: {exc.message}", False
        return clip(output, RETURN_CHARS), True
