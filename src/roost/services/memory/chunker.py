"""Split markdown into overlapping chunks on line boundaries, for the memory index.

Sizes are in *estimated* tokens: characters / 4. No tokenizer is needed, the estimate is
the same whichever model is configured (so switching models never re-chunks the index),
and it is close enough for English prose, which is all chunk sizes need.

Speed matters (a workspace can hold tens of MB), so nothing loops per character or even
per line in Python: line offsets come from C-level `split`/`accumulate`, and chunk ends
are found by bisecting them. The Python loop runs once per chunk.
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_left, bisect_right
from itertools import accumulate, repeat

from roost.core.records import MemoryChunk

CHARS_PER_TOKEN = 4
HUGE_LINE_FACTOR = 4  # a line longer than this many chunks is cut by characters
_HEADING = re.compile(r" {0,3}#{1,6}(?:\s|$)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def blank_comments(text: str) -> str:
    """HTML comments replaced by their newlines: what a markdown reader sees, with every
    line number unchanged. (The templates keep their guidance in comments.)"""
    if "<!--" not in text:
        return text
    return _COMMENT.sub(lambda match: "\n" * match.group().count("\n"), text)


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def chunk_markdown(text: str, chunk_tokens: int = 400, overlap: int = 80) -> list[MemoryChunk]:
    """Chunks of whole lines of about `chunk_tokens`, neighbours sharing ~`overlap` tokens.

    Lines are 1-indexed and inclusive. Blank chunks are left out. A line longer than a
    chunk is a chunk of its own; one longer than 4 chunks is cut into chunk-sized pieces
    that all carry its line number. Overlap is capped at half a chunk.
    """
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be positive")
    budget = chunk_tokens * CHARS_PER_TOKEN
    shared = min(max(overlap, 0) * CHARS_PER_TOKEN, budget // 2)
    if "\r" in text:  # a scan is cheaper than the copy replace() makes
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    count = len(lines)
    # starts[i]: offset of line i in text; starts[count] - 1 is where the last line ends.
    starts = list(accumulate(map(operator.add, map(len, lines), repeat(1)), initial=0))

    chunks: list[MemoryChunk] = []
    first = 0
    while first < count:
        # Blank lines at either edge are left out, so line ranges point at content.
        while first < count and (not lines[first] or lines[first].isspace()):
            first += 1
        if first == count:
            break
        end = bisect_right(starts, starts[first] + budget + 1) - 1  # +1: the last "\n"
        if end <= first:
            end = first + 1
        elif end > count:
            end = count
        if end == first + 1 and starts[end] - starts[first] - 1 > budget:
            _huge_line(text[starts[first] : starts[end] - 1], first + 1, budget, chunks)
        else:
            last = end
            while not lines[last - 1] or lines[last - 1].isspace():
                last -= 1  # stops at `first`, which is not blank
            chunks.append(MemoryChunk(first + 1, last, text[starts[first] : starts[last] - 1]))
        if end >= count:
            break
        first = _next_start(lines, starts, first, end, budget, shared)
    return chunks


def _huge_line(line: str, number: int, budget: int, out: list[MemoryChunk]) -> None:
    if len(line) <= HUGE_LINE_FACTOR * budget:
        out.append(MemoryChunk(number, number, line))
        return
    for offset in range(0, len(line), budget):
        piece = line[offset : offset + budget]
        if piece.strip():
            out.append(MemoryChunk(number, number, piece))


def _next_start(
    lines: list[str], starts: list[int], first: int, end: int, budget: int, shared: int
) -> int:
    """Where the chunk after lines [first, end) begins: ~`shared` chars of lines back."""
    start = bisect_left(starts, starts[end] - shared)
    if start <= first:
        start = first + 1
    if start >= end:
        return end
    # The overlap must leave room for at least one new line, or the next chunk would
    # only repeat this one (or grow past the budget around a long line).
    if starts[end + 1] - starts[start] - 1 > budget:
        return end
    # A heading in the overlap is a better place to begin: the chunk then opens a section.
    for line in range(end - 1, start - 1, -1):
        if lines[line].startswith(("#", " ")) and _HEADING.match(lines[line]):
            return line
    return start
