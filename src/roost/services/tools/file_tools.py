"""read_file, write_file, edit_file: any file in the user's workspace, and nothing outside.

Paths follow the workspace's rules (`Workspace.resolve_any`): relative, no '..', no hidden
parts, and no symlink that leads out. Writes to .md files go through the MemoryService,
which indexes them before the tool returns.
"""

from __future__ import annotations

import asyncio
from typing import Any

from roost.providers.base import ToolSpec
from roost.services.tools.args import parse, schema
from roost.services.tools.base import ToolContext, ToolError
from roost.services.tools.files import (
    MAX_EDIT_BYTES,
    MAX_WRITE_BYTES,
    is_markdown,
    label,
    read_excerpt,
    read_text,
    reported,
    resolve,
    write_atomic,
)

MAX_PATH_CHARS = 512
MAX_TEXT_CHARS = 1_000_000

_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_CHARS,
    "description": "File path relative to the workspace folder, e.g. notes/plan.txt",
}


class ReadFile:
    dangerous = False
    spec = ToolSpec(
        name="read_file",
        description=(
            "Read a text file in the workspace folder, whole or from line `offset` on "
            "(lines numbered from 1), at most `limit` lines. Long output is cut at a whole "
            "line and says which offset reads on. Binary files are refused."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "First line to read (default 1)",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Most lines to read (default: as many as fit)",
                },
            },
            "path",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        relative, path = resolve(context.workspace, args.string("path"))
        start = args.optional_integer("offset") or 1
        count = args.optional_integer("limit")
        limit = context.settings.output_chars
        excerpt = await asyncio.to_thread(read_excerpt, path, relative, start, count, limit)
        return label(relative, excerpt, "offset")


class WriteFile:
    dangerous = True
    spec = ToolSpec(
        name="write_file",
        description=(
            "Create a file in the workspace folder, or replace one whole, with the given "
            "text (folders are created as needed). To change part of a file, use edit_file."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "content": {
                    "type": "string",
                    "maxLength": MAX_TEXT_CHARS,
                    "description": "The file's complete new text",
                },
            },
            "path",
            "content",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        relative, _ = resolve(context.workspace, args.string("path"))
        data = args.string("content").encode("utf-8")
        if len(data) > MAX_WRITE_BYTES:
            raise ToolError(f"argument 'content' must be at most {MAX_WRITE_BYTES} bytes")
        existed = await _store(context, relative, args.string("content"), data)
        verb = "Replaced" if existed else "Created"
        return f"{verb} {relative} ({len(data)} bytes)."


class EditFile:
    dangerous = True
    spec = ToolSpec(
        name="edit_file",
        description=(
            "Change a text file in the workspace folder by replacing `old_text` with "
            "`new_text`. old_text must match the file exactly (spaces, indentation and line "
            "breaks included) and only once: include enough surrounding lines to make it "
            "unique, or set replace_all to change every occurrence. Read the file first."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "old_text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEXT_CHARS,
                    "description": "Exact text to replace",
                },
                "new_text": {
                    "type": "string",
                    "maxLength": MAX_TEXT_CHARS,
                    "description": "Text to put in its place (may be empty, to delete)",
                },
                "replace_all": {
                    "type": "boolean",
                    "default": False,
                    "description": "Replace every occurrence instead of exactly one",
                },
            },
            "path",
            "old_text",
            "new_text",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        relative, path = resolve(context.workspace, args.string("path"))
        old, new = args.string("old_text"), args.string("new_text")
        if old == new:
            raise ToolError("old_text and new_text are the same: nothing to change")
        text = await asyncio.to_thread(read_text, path, relative, MAX_EDIT_BYTES)
        found = text.count(old)
        if found == 0:
            raise ToolError(
                f"old_text was not found in {relative}; read the file and copy the text exactly"
            )
        if found > 1 and not args.boolean("replace_all"):
            raise ToolError(
                f"old_text matches {found} places in {relative}; include more surrounding "
                "text to make it unique, or set replace_all to true"
            )
        changed = text.replace(old, new)
        data = changed.encode("utf-8")
        if len(data) > MAX_WRITE_BYTES:
            raise ToolError(f"the edited file would be larger than {MAX_WRITE_BYTES} bytes")
        await _store(context, relative, changed, data)
        places = "1 place" if found == 1 else f"{found} places"
        return f"Edited {relative}: replaced {places}."


async def _store(context: ToolContext, relative: str, text: str, data: bytes) -> bool:
    """Write the file atomically; memory files through the service, which indexes them."""
    workspace = context.workspace
    path = workspace.resolve_any(relative)
    existed = path.exists()
    if is_markdown(workspace, relative):
        with reported():
            await context.memory.write_file(context.user, relative, text)
        return existed
    return await asyncio.to_thread(write_atomic, workspace, path, data)
