"""Tool calls a model writes in its own format (its chat template taught it one).

Nothing constrains the sampling here, so the reply is read as it streams: text goes out
until a call may be starting (tool_formats says where), the rest is held, and at the end
the held text becomes tool calls when it is a well-formed set of calls to tools the
request offered, within their schema's bounds; anything else goes out as the text it is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from roost.providers.base import (
    Finish,
    ProviderEvent,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
    UsageChunk,
)
from roost.providers.constrain import tool_bounds
from roost.providers.schema_check import violation
from roost.providers.tool_formats import ToolFormat

log = logging.getLogger(__name__)


def read_calls(
    text: str, fmt: ToolFormat, tools: tuple[ToolSpec, ...]
) -> list[ToolCallChunk] | None:
    """The calls in `text` (from where the first begins), or None (with the reason
    logged) when it is not a set of calls roost can hand on."""
    calls = fmt.parse(text)
    if calls is None:
        log.info("a %s tool call that does not parse is returned as text", fmt.name)
        return None
    by_name = {tool.name: tool for tool in tools}
    out: list[ToolCallChunk] = []
    for call in calls:
        tool = by_name.get(call.name)
        if tool is None:
            log.info("a call to '%s', which is not an offered tool, is returned as text", call.name)
            return None
        broken = violation(tool_bounds(tool), call.arguments)
        if broken is not None:
            log.info(
                "a call to '%s' that breaks its schema is returned as text: %s", tool.name, broken
            )
            return None
        out.append(ToolCallChunk(f"call_{uuid.uuid4().hex[:24]}", call.name, call.arguments))
    return out


async def native_calls(
    events: AsyncIterator[ProviderEvent], fmt: ToolFormat, tools: tuple[ToolSpec, ...]
) -> AsyncGenerator[ProviderEvent, None]:
    text = ""  # the whole reply so far
    sent = 0  # how much of it has gone out
    start: int | None = None  # where the held call begins
    usage: UsageChunk | None = None
    async for event in events:
        if isinstance(event, TextChunk):
            text += event.text
            if start is None:
                start = fmt.start(text)
                end = start if start is not None else len(text) - fmt.holdback(text)
                if end > sent:
                    yield TextChunk(text[sent:end])
                    sent = end
            continue
        if isinstance(event, UsageChunk):
            usage = event  # after the held text, which ends with the reply
            continue
        if isinstance(event, Finish):
            calls = read_calls(text[start:], fmt, tools) if start is not None else None
            if calls is None and sent < len(text):
                yield TextChunk(text[sent:])
            for call in calls or ():
                yield call
            if usage is not None:
                yield usage
            yield Finish("tool_calls") if calls else event
            continue
        yield event
