"""A short title for a conversation, written by the model from its first message.

The model's answer is cleaned (first line, no quotes or "Title:" prefix, at most
MAX_TITLE_CHARS cut at a word); when the model fails or says nothing usable, the title
is the message itself, cut the same way.
"""

from __future__ import annotations

import asyncio
import logging
import re

from roost.core.errors import RoostError
from roost.core.metrics import Metrics
from roost.providers.base import ChatMessage, ChatProvider, ChatRequest, GenerationOptions
from roost.services.generation import Collected, model_events

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 60
TITLE_TOKENS = 24
TITLE_SECONDS = 30.0
_INSTRUCTION = (
    "Write a title of at most six words for a conversation that starts with the message "
    "below. Answer with the title only: no quotes, no explanation.\n\nMessage: {message}"
)
_PREFIX = re.compile(r"^\s*(title|subject|topic)\s*[:\-]\s*", re.IGNORECASE)
_QUOTES = "\"'`*#\u201c\u201d\u2018\u2019"  # straight and curly quotes, markdown marks


def clip(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """One line, spaces collapsed, cut at a word boundary with an ellipsis if too long."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if line[limit - 1] != " " and " " in cut[limit // 2 :]:  # mid-word: back to a space
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def clean(answer: str) -> str:
    """The usable title in a model's answer, or "" if there is none."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    title = _PREFIX.sub("", lines[0]).strip().strip(_QUOTES).strip()
    title = title.rstrip(".!:;,").strip()
    return clip(title) if any(c.isalnum() for c in title) else ""


async def _ask(provider: ChatProvider, message: str, metrics: Metrics | None) -> str:
    prompt = _INSTRUCTION.format(message=clip(message, 1000))
    request = ChatRequest(
        [ChatMessage("user", prompt)],
        GenerationOptions(temperature=0.0, max_tokens=TITLE_TOKENS),
    )
    out = Collected()
    async for _ in model_events(provider, request, out, metrics):
        pass
    return out.content


async def write_title(
    provider: ChatProvider, first_message: str, metrics: Metrics | None = None
) -> str:
    """The model's title for a conversation starting with `first_message`; never raises
    for a model failure (the message, clipped, is the title then)."""
    try:
        title = clean(await asyncio.wait_for(_ask(provider, first_message, metrics), TITLE_SECONDS))
    except (RoostError, TimeoutError) as exc:
        log.info("title from the message itself: the model failed (%s)", exc)
        title = ""
    return title or clip(first_message) or "New Conversation"
