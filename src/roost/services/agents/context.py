"""An agent's prompt: the system prompt with core memory (and the summary of what no
longer fits), then the in-context messages; older messages are summarised when the prompt
take more than `[agents] summarize_at` of the room the model's window leaves them (after
the system prompt, core memory and the function descriptions).

Summarising never fails a turn: if the model cannot summarise, the evicted messages are
noted as moved to recall memory instead. It runs at most once per step, so an oversized
single message cannot loop it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from roost.core.agents import Agent, AgentMessage
from roost.core.chat import ChatMessage, GenerationOptions, ToolCallChunk, ToolSpec
from roost.core.clock import utcnow
from roost.core.errors import RoostError
from roost.core.metrics import Metrics
from roost.providers.base import ChatProvider, ChatRequest
from roost.services.agents.packing import unpack
from roost.services.agents.store import LiveAgent
from roost.services.agents.tools import INNER_THOUGHTS
from roost.services.generation import Collected, model_events

log = logging.getLogger(__name__)

WINDOW_MESSAGES = 400  # most messages read for a prompt (the token budget cuts further)
SUMMARY_CHARS = 2000
KEEP_SHARE = 0.5  # after summarising, the kept messages take at most this share of the room
_SLACK = 32
_SUMMARY_SYSTEM = (
    "You summarise a conversation between an AI persona and a user, for the AI to remember "
    "later. Write the summary in the AI's first person, under 100 words. Keep names, facts "
    "about the user, promises and open questions."
)


def system_text(agent: Agent, recall: int, archival: int) -> str:
    """MemGPT's system message: instructions, core memory and memory statistics.

    What changes every step (the statistics) comes last, after what does not (the
    instructions and core memory), so a local model reuses the evaluated prefix from
    step to step instead of reading the whole system message again."""
    parts = [
        agent.system,
        "### Core memory (limited in size, additional information stored in archival / "
        "recall memory):",
        f"<persona>\n{agent.persona}\n</persona>",
        f"<human>\n{agent.human}\n</human>",
    ]
    if agent.summary:
        parts.append(f"Summary of earlier conversation (now in recall memory):\n{agent.summary}")
    parts += [
        f"### Memory [last modified: {agent.updated_at.isoformat()}]",
        f"{recall} previous messages between you and the user are stored in recall memory "
        "(use functions to access them)",
        f"{archival} total memories you created are stored in archival memory (use functions "
        "to access them)",
    ]
    return "\n\n".join(parts)


def as_chat(message: AgentMessage) -> ChatMessage:
    """A stored message as the model sees it again (its calls with their inner thoughts)."""
    if message.role == "tool":
        return ChatMessage(
            "tool", message.text, tool_call_id=message.tool_call_id, name=message.name
        )
    if message.role == "assistant" and message.tool_calls:
        calls = []
        for call in message.tool_calls:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                arguments = {}
            if not isinstance(arguments, dict):
                arguments = {}
            arguments = {INNER_THOUGHTS: message.text, **arguments} if message.text else arguments
            calls.append(ToolCallChunk(str(call.get("id")), str(function.get("name")), arguments))
        return ChatMessage("assistant", "", tool_calls=tuple(calls))
    role = message.role if message.role in ("user", "assistant") else "user"
    return ChatMessage(role, message.text)


def _units(messages: list[AgentMessage]) -> list[list[AgentMessage]]:
    """Messages grouped from one user message to the next: the unit evicted or kept."""
    units: list[list[AgentMessage]] = []
    for message in messages:
        if message.role == "user" or not units:
            units.append([message])
        else:
            units[-1].append(message)
    return units


def _transcript(messages: list[AgentMessage]) -> str:
    lines = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            functions = [c.get("function") or {} for c in message.tool_calls]
            calls = ", ".join(f"{f.get('name')}({f.get('arguments')})" for f in functions)
            lines.append(f"AI (thinking): {message.text}\nAI called: {calls}")
        elif message.role == "tool":
            lines.append(f"function result: {unpack(message.text)[:300]}")
        else:
            lines.append(f"{message.role}: {unpack(message.text)}")
    return "\n".join(lines)


@dataclass
class Budget:
    window: int
    reserve: int
    share: float

    @property
    def usable(self) -> int:
        return max(256, self.window - self.reserve - _SLACK)


class ContextBuilder:
    def __init__(
        self,
        provider: ChatProvider,
        tools: tuple[ToolSpec, ...],
        budget: Budget,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._provider = provider
        self._tools = tools
        self._budget = budget
        self._tools_cost: int | None = None

    async def _tools_tokens(self) -> int:
        if self._tools_cost is None:
            listing = json.dumps(
                [
                    {"name": t.name, "description": t.description, "parameters": t.parameters}
                    for t in self._tools
                ]
            )
            self._tools_cost = await self._provider.count_tokens([ChatMessage("system", listing)])
        return self._tools_cost

    async def build(self, live: LiveAgent) -> list[ChatMessage]:
        """The prompt for the next step, summarising first when its messages have grown
        past `share` of the room the window leaves them (after system prompt and tools)."""
        prompt, cost, window = await self._prompt(live)
        fixed = await self._fixed(prompt)
        room = self._budget.usable - fixed
        if cost - fixed > self._budget.share * room and len(_units(window)) > 1:
            await self._summarise(live, window, max(0, int(room * KEEP_SHARE)))
            prompt, cost, window = await self._prompt(live)
        return prompt

    async def _fixed(self, prompt: list[ChatMessage]) -> int:
        return await self._provider.count_tokens(prompt[:1]) + await self._tools_tokens()

    async def _prompt(self, live: LiveAgent) -> tuple[list[ChatMessage], int, list[AgentMessage]]:
        store = live.store
        window, recall, archival = await store.messages.window(live.agent, WINDOW_MESSAGES)
        prompt = [ChatMessage("system", system_text(live.agent, recall, archival))]
        prompt += [as_chat(m) for m in window]
        cost = await self._provider.count_tokens(prompt) + await self._tools_tokens()
        return prompt, cost, window

    async def _summarise(self, live: LiveAgent, window: list[AgentMessage], target: int) -> None:
        units = _units(window)
        kept: list[list[AgentMessage]] = []
        used = 0
        for unit in reversed(units):  # newest first; the newest unit always stays
            unit_cost = await self._provider.count_tokens([as_chat(m) for m in unit])
            if kept and used + unit_cost > target:
                break
            kept.append(unit)
            used += unit_cost
        evicted = [m for unit in units[: len(units) - len(kept)] for m in unit]
        if not evicted:
            return
        first_kept = kept[-1][0].seq
        summary = await self._summary_of(live.agent.summary, evicted)
        updated = await live.store.agents.update(
            live.agent.user_id, live.agent.id, summary=summary, context_from=first_kept
        )
        if updated is not None:
            live.agent = updated

    async def _summary_of(self, previous: str | None, evicted: list[AgentMessage]) -> str:
        text = _transcript(evicted)
        if previous:
            text = f"Earlier summary: {previous}\n\n{text}"
        # The transcript is cut from the front until the request fits the window.
        room = max(256, self._budget.usable - 200) * 3  # about 3 characters a token
        request = ChatRequest(
            [ChatMessage("system", _SUMMARY_SYSTEM), ChatMessage("user", text[-room:])],
            GenerationOptions(temperature=0.0, max_tokens=min(200, self._budget.reserve)),
        )
        out = Collected()
        try:
            async for _ in model_events(self._provider, request, out, self._metrics):
                pass
            summary = out.content.strip()
        except RoostError as exc:
            log.warning("could not summarise older agent messages: %s", exc.message)
            summary = ""
        note = f"{len(evicted)} older messages were moved out of context on {utcnow():%Y-%m-%d}."
        if not summary:  # fall back to keeping the old summary and a note
            summary = f"{previous}\n{note}" if previous else note
        return summary[-SUMMARY_CHARS:]
