"""MemGPT's function set as roost Tools, bound to the agent of one turn.

Results are what MemGPT's functions return ("None" for the ones that return nothing);
a ToolError becomes a failed function return that the model reads (and, as in MemGPT,
a failed call gives the model another step to recover).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from roost.core.agents import AgentMessage
from roost.core.clock import utcnow
from roost.core.errors import InvalidRequest
from roost.providers.base import ToolSpec
from roost.services.agents.defaults import ALL_TOOLS, tool_schema
from roost.services.agents.events import AgentSaid, StepLog
from roost.services.agents.packing import unpack
from roost.services.agents.store import BLOCKS, LiveAgent, split_passage
from roost.services.tools.base import ToolContext, ToolError

PAGE_SIZE = 5  # results per page, as MemGPT's RETRIEVAL_QUERY_DEFAULT_PAGE_SIZE
MAX_PAGE = 1000
MAX_PAUSE_MINUTES = 360
INNER_THOUGHTS = "inner_thoughts"
_THOUGHTS_PARAM = {
    "type": "string",
    "description": "Deep inner monologue private to you only (under 50 words).",
}

Handler = Callable[[dict[str, Any]], Awaitable[str]]


COMPACT_WINDOW = 4096  # models with this window or less get the compact descriptions
_COMPACT_CHARS = {INNER_THOUGHTS: 240, "message": 600}


def _compact(properties: dict[str, Any]) -> dict[str, Any]:
    """Parameters without descriptions, and bounded thoughts and messages: a small model's
    window cannot spare the full schemas (1,400 tokens for SmolLM2), and its call must
    fit its reply budget."""
    out: dict[str, Any] = {}
    for key, value in properties.items():
        slim = {k: v for k, v in value.items() if k != "description"}
        if key in _COMPACT_CHARS:
            slim["maxLength"] = _COMPACT_CHARS[key]
        out[key] = slim
    return out


def model_spec(name: str, compact: bool = False) -> ToolSpec:
    """The tool as the model sees it: MemGPT's schema with `inner_thoughts` first, so a
    model that may only emit a call (grammar-constrained, tool_choice required) still
    thinks before it acts."""
    schema = tool_schema(name)
    parameters = schema["parameters"]
    properties = {INNER_THOUGHTS: _THOUGHTS_PARAM, **parameters["properties"]}
    description = schema["description"]
    if compact:
        properties = _compact(properties)
        description = description.split(". ")[0].rstrip(".")
    return ToolSpec(
        name,
        description,
        {
            "type": "object",
            "properties": properties,
            "required": [INNER_THOUGHTS, *parameters["required"]],
        },
    )


SPECS = {name: model_spec(name) for name in ALL_TOOLS}
COMPACT_SPECS = {name: model_spec(name, compact=True) for name in ALL_TOOLS}


class BoundTool:
    """A Tool whose behaviour is a handler bound to the running agent."""

    dangerous = False

    def __init__(self, spec: ToolSpec, handler: Handler) -> None:
        self._spec = spec
        self._handler = handler

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    async def run(self, context: ToolContext | None, arguments: dict[str, Any]) -> str:
        return await self._handler(arguments)


def _text(arguments: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise ToolError(f"'{key}' must be a non-empty string")
    return value


def _page(arguments: dict[str, Any]) -> int:
    value = arguments.get("page", 0)
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return 0
    try:
        page = int(value)
    except (TypeError, ValueError):
        raise ToolError("'page' argument must be an integer") from None
    if not 0 <= page <= MAX_PAGE:
        raise ToolError(f"'page' must be between 0 and {MAX_PAGE}")
    return page


def _date(arguments: dict[str, Any], key: str) -> datetime:
    raw = _text(arguments, key)
    try:
        return datetime.strptime(raw.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ToolError(f"'{key}' must be a date in the format YYYY-MM-DD") from None


def results(found: list[str], total: int, page: int) -> str:
    if not found:
        return "No results found."
    pages = math.ceil(total / PAGE_SIZE) - 1
    head = f"Showing {len(found)} of {total} results (page {page}/{pages}):"
    return f"{head} {json.dumps(found, ensure_ascii=False)}"


def _recall_line(message: AgentMessage) -> str:
    return f"timestamp: {message.created_at.isoformat()}, {message.role} - {unpack(message.text)}"


class AgentTools:
    """The eight MemGPT functions for one turn of one agent."""

    def __init__(self, live: LiveAgent, log: Callable[[], StepLog]) -> None:
        self._live = live
        self._log = log  # the current step's event log (send_message writes to it)
        self.current_message_id = ""
        handlers: dict[str, Handler] = {
            "send_message": self._send_message,
            "pause_heartbeats": self._pause_heartbeats,
            "conversation_search": self._conversation_search,
            "conversation_search_date": self._conversation_search_date,
            "archival_memory_insert": self._archival_insert,
            "archival_memory_search": self._archival_search,
            "core_memory_append": self._core_append,
            "core_memory_replace": self._core_replace,
        }
        self.tools = {n: BoundTool(SPECS[n], h) for n, h in handlers.items()}

    async def _send_message(self, arguments: dict[str, Any]) -> str:
        message = _text(arguments, "message")
        self._log().events.append(AgentSaid(self.current_message_id, message, utcnow()))
        return "None"

    async def _pause_heartbeats(self, arguments: dict[str, Any]) -> str:
        try:
            minutes = min(MAX_PAUSE_MINUTES, max(0, int(arguments.get("minutes", 0))))
        except (TypeError, ValueError):
            raise ToolError("'minutes' must be an integer") from None
        # roost runs agents only when a message arrives: there are no timed heartbeats to
        # pause, so this only answers as MemGPT does.
        return f"Pausing timed heartbeats for {minutes} min"

    async def _conversation_search(self, arguments: dict[str, Any]) -> str:
        query, page = _text(arguments, "query"), _page(arguments)
        found, total = await self._live.store.messages.search(
            self._live.agent, text=query, offset=page * PAGE_SIZE, limit=PAGE_SIZE
        )
        return results([_recall_line(m) for m in found], total, page)

    async def _conversation_search_date(self, arguments: dict[str, Any]) -> str:
        start, end = _date(arguments, "start_date"), _date(arguments, "end_date")
        page = _page(arguments)
        found, total = await self._live.store.messages.search(
            self._live.agent,
            start=start,
            end=end + timedelta(days=1),  # the end date is included
            offset=page * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        return results([_recall_line(m) for m in found], total, page)

    async def _archival_insert(self, arguments: dict[str, Any]) -> str:
        content = _text(arguments, "content")
        await self._live.store.passages.insert(self._live.agent, split_passage(content))
        return "None"

    async def _archival_search(self, arguments: dict[str, Any]) -> str:
        query, page = _text(arguments, "query"), _page(arguments)
        found, total = await self._live.store.passages.search(
            self._live.agent, query, offset=page * PAGE_SIZE, limit=PAGE_SIZE
        )
        lines = [f"timestamp: {p.created_at.isoformat()}, memory: {p.text}" for p in found]
        return results(lines, total, page)

    def _block_name(self, arguments: dict[str, Any]) -> str:
        name = arguments.get("name")
        if name not in BLOCKS:
            raise ToolError("'name' must be 'persona' or 'human'")
        return str(name)

    async def _edit(self, name: str, value: str) -> str:
        try:
            await self._live.set_block(name, value)
        except InvalidRequest as exc:  # over the block's limit: the model is told
            raise ToolError(f"Edit failed: {exc.message}") from None
        return "None"

    async def _core_append(self, arguments: dict[str, Any]) -> str:
        name = self._block_name(arguments)
        content = _text(arguments, "content")
        current = self._live.block(name)
        return await self._edit(name, f"{current}\n{content}" if current else content)

    async def _core_replace(self, arguments: dict[str, Any]) -> str:
        name = self._block_name(arguments)
        old = _text(arguments, "old_content")
        new = _text(arguments, "new_content", empty=True)
        current = self._live.block(name)
        if old not in current:
            raise ToolError(f"Edit failed: old_content was not found in the {name} block")
        return await self._edit(name, current.replace(old, new))
