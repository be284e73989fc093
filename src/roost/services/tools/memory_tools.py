"""memory_search, memory_get, memory_write, memory_append: the user's markdown memory.

Memory files are the workspace's .md files; writes go through the MemoryService so the
search index knows about them before the tool returns.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from roost.providers.base import ToolSpec
from roost.services.tools.args import parse, schema
from roost.services.tools.base import ToolContext, ToolError
from roost.services.tools.files import label, read_excerpt, reported

MAX_SEARCH_HITS = 20
MAX_QUERY_CHARS = 1_000
MAX_PATH_CHARS = 512
MAX_TEXT_CHARS = 1_000_000

_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_CHARS,
    "description": "A .md file, relative to the memory workspace, e.g. MEMORY.md or notes/x.md",
}


class MemorySearch:
    dangerous = False
    spec = ToolSpec(
        name="memory_search",
        description=(
            "Search the user's memory (their markdown notes and daily logs) by meaning and "
            "keywords. Returns the best-matching passages as JSON, each with its file, line "
            "range, score (higher is better) and text. Read more around a hit with memory_get."
        ),
        parameters=schema(
            {
                "query": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_QUERY_CHARS,
                    "description": "What to look for, in words",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_SEARCH_HITS,
                    "default": 5,
                    "description": "Most passages to return (default 5)",
                },
            },
            "query",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        with reported():
            hits = await context.memory.search(
                context.user, args.string("query"), args.integer("limit")
            )
        found: list[dict[str, object]] = []
        size = 0
        for hit in hits:
            item: dict[str, object] = {
                "file": hit.file,
                "lines": f"{hit.line_start}-{hit.line_end}",
                "score": round(hit.score, 3),
                "text": hit.content,
            }
            size += len(json.dumps(item, ensure_ascii=False))
            if found and size > context.settings.output_chars:
                break  # whole hits only: a cut one would not be valid JSON
            found.append(item)
        result: dict[str, object] = {"hits": found}
        if len(found) < len(hits):
            result["more"] = f"{len(hits) - len(found)} more hits left out (output limit)"
        text = json.dumps(result, ensure_ascii=False)
        if len(text) > context.settings.output_chars:  # one hit alone is too long
            found[0]["text"] = str(found[0]["text"])[: context.settings.output_chars // 2] + "…"
            text = json.dumps(result, ensure_ascii=False)
        return text


class MemoryGet:
    dangerous = False
    spec = ToolSpec(
        name="memory_get",
        description=(
            "Read a memory file (a .md file in the user's workspace), whole or a range of "
            "lines. Lines are numbered from 1; the range is inclusive. Long output is cut "
            "at a whole line and says which line_start reads on."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "line_start": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "First line to read (default 1)",
                },
                "line_end": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Last line to read, inclusive (default: to the end)",
                },
            },
            "path",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        start = args.optional_integer("line_start") or 1
        end = args.optional_integer("line_end")
        if end is not None and end < start:
            raise ToolError("argument 'line_end' must not be before line_start")
        with reported():
            relative = context.workspace.normalize(args.string("path"))
            path = context.workspace.resolve(relative)
        count = None if end is None else end - start + 1
        limit = context.settings.output_chars
        excerpt = await asyncio.to_thread(read_excerpt, path, relative, start, count, limit)
        return label(relative, excerpt, "line_start")


class MemoryWrite:
    dangerous = False
    spec = ToolSpec(
        name="memory_write",
        description=(
            "Replace a memory file (a .md file in the user's workspace) with new content, "
            "creating it and its folders if needed. The whole file is replaced: to add a note, "
            "use memory_append instead. The file is searchable at once."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "content": {
                    "type": "string",
                    "maxLength": MAX_TEXT_CHARS,
                    "description": "The file's complete new markdown text",
                },
            },
            "path",
            "content",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        content = args.string("content")
        with reported():
            relative = context.workspace.normalize(args.string("path"))
            await context.memory.write_file(context.user, relative, content)
        return f"Wrote {relative} ({len(content.encode('utf-8'))} bytes)."


class MemoryAppend:
    dangerous = False
    spec = ToolSpec(
        name="memory_append",
        description=(
            "Add text at the end of a memory file (a .md file in the user's workspace), on a "
            "line of its own; by default today's daily log (memory/YYYY-MM-DD.md). Use it to "
            "note facts, decisions and progress. The text is searchable at once."
        ),
        parameters=schema(
            {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEXT_CHARS,
                    "description": "Markdown to add, e.g. '- Booked the dentist for May 3'",
                },
                "path": {**_PATH, "description": "A .md file to append to (default: today's log)"},
            },
            "text",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        text = args.string("text")
        text = text if text.endswith("\n") else text + "\n"
        with reported():
            relative = await context.memory.append_file(
                context.user, args.optional_string("path"), text
            )
        return f"Appended {len(text.encode('utf-8'))} bytes to {relative}."
