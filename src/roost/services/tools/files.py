"""Workspace file access for the tools: confined paths, bounded reads, atomic writes.

Errors come out as ToolError (reported to the model) and the blocking file work is meant
to run in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from roost.core.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge
from roost.services.memory.workspace import Workspace
from roost.services.tools.base import ToolError

MAX_WRITE_BYTES = 1 << 20  # as for memory files: a tool writes text, not data dumps
MAX_EDIT_BYTES = 1 << 20
SNIFF_BYTES = 8192  # a NUL byte in the first 8 KiB: not a text file
PIECE_CHARS = 65_536  # a line is read in pieces of this size, so a huge one stays bounded


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn the domain errors a bad call causes into errors the model is told about."""
    try:
        yield
    except (InvalidRequest, NotFound, PayloadTooLarge, Conflict) as exc:
        raise ToolError(exc.message) from None


def resolve(workspace: Workspace, path: str) -> tuple[str, Path]:
    """The normalized relative path and the file it names, confined to the workspace."""
    with reported():
        return workspace.normalize_any(path), workspace.resolve_any(path)


def is_markdown(workspace: Workspace, path: str) -> bool:
    """Whether the memory index holds this file (writes to it must be indexed)."""
    try:
        workspace.normalize(path)
    except InvalidRequest:
        return False
    return True


def regular_file(path: Path, relative: str) -> os.stat_result:
    """The file's stat; ToolError for a missing file, a folder, a device or a pipe."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ToolError(f"{relative}: no such file") from None
    except OSError as exc:
        raise ToolError(f"{relative}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{relative} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):  # opening a pipe would block forever
        raise ToolError(f"{relative} is not a regular file")
    return info


@dataclass(frozen=True, slots=True)
class Excerpt:
    text: str
    first: int  # number of the first line shown (1-based)
    last: int  # number of the last line shown; first - 1 when none is
    more: bool  # the file goes on after `last`


def read_excerpt(path: Path, relative: str, start: int, count: int | None, limit: int) -> Excerpt:
    """Lines start.. (at most `count` of them, at most `limit` characters), streamed."""
    regular_file(path, relative)
    with path.open("rb") as raw:
        if b"\x00" in raw.read(SNIFF_BYTES):
            raise ToolError(f"{relative} is a binary file, not text")
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        return _excerpt(text, start, count, limit)


def _excerpt(text: io.TextIOWrapper, start: int, count: int | None, limit: int) -> Excerpt:
    line = 1  # the line the next piece belongs to
    midline = False  # a skipped line came in several pieces and has not ended yet
    shown: list[str] = []
    partial = ""  # the line being collected, when it comes in several pieces
    used = 0
    end = None if count is None else start + count  # first line not wanted
    while True:
        piece = text.readline(PIECE_CHARS)
        if not piece:
            if partial or midline:  # a last line without a newline
                shown.append(partial)
                line += 1
            total = line - 1
            if start > max(total, 1):
                raise ToolError(f"line {start} is past the end: the file has {total} lines")
            return Excerpt("".join(shown), start, total, more=False)
        if line < start:
            midline = not piece.endswith("\n")
            line += not midline
            continue
        if end is not None and line >= end:
            return Excerpt("".join(shown), start, line - 1, more=True)
        partial += piece
        if len(partial) + used > limit:
            if shown:  # end on the last whole line; the model reads on from the next
                return Excerpt("".join(shown), start, line - 1, more=True)
            cut = partial[:limit] + f"[… line {line} is cut at {limit} characters]\n"
            return Excerpt(cut, start, line, more=True)
        if piece.endswith("\n"):
            shown.append(partial)
            used += len(partial)
            partial = ""
            line += 1


def label(relative: str, excerpt: Excerpt, next_argument: str) -> str:
    """An excerpt headed by its file and lines, saying how to read on."""
    if excerpt.last < excerpt.first:
        return f"[{relative}: empty]"
    lines = (
        f"line {excerpt.first}"
        if excerpt.first == excerpt.last
        else f"lines {excerpt.first}-{excerpt.last}"
    )
    head = f"[{relative}, {lines}]\n"
    body = excerpt.text if excerpt.text.endswith("\n") else excerpt.text + "\n"
    if not excerpt.more:
        return head + body + "[end of file]"
    return head + body + f"[more lines follow: {next_argument}={excerpt.last + 1}]"


def read_text(path: Path, relative: str, max_bytes: int) -> str:
    """A whole UTF-8 text file, exactly as stored (line endings kept)."""
    info = regular_file(path, relative)
    if info.st_size > max_bytes:
        raise ToolError(f"{relative} is larger than {max_bytes} bytes")
    data = path.read_bytes()
    if b"\x00" in data[:SNIFF_BYTES]:
        raise ToolError(f"{relative} is a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{relative} is not UTF-8 text") from None


def write_atomic(workspace: Workspace, target: Path, data: bytes) -> bool:
    """Replace or create the file in one step; True when it existed before.

    A symlink inside the workspace is written through (the link stays); the real file
    must be inside too. A reader never sees half a file.
    """
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    real = Path(os.path.realpath(target))
    if not workspace.contains(real):
        raise ToolError("path leads outside the workspace")
    if real.is_dir():
        raise ToolError("path names a folder")
    existed = real.exists()
    handle, temporary = tempfile.mkstemp(dir=real.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if existed:  # a new file keeps mkstemp's 0600: the workspace is private
            os.chmod(temporary, real.stat().st_mode & 0o777)  # keep the user's mode
        os.replace(temporary, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return existed
