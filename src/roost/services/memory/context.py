"""Fit memory (MEMORY.md, recent daily logs, search hits) into a chat prompt's token budget."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from roost.core.records import MemoryHit
from roost.services.memory.chunker import blank_comments

CountTokens = Callable[[str], Awaitable[int]]
_HEADING = re.compile(r"\s{0,3}#{1,6}(?:\s|$)")
# Before exact measuring, a section is cut to this many characters per budget token: no
# tokenizer packs more than that into one token for text worth remembering, and it keeps
# a huge file from being tokenized again and again while the budget is searched.
_CHARS_PER_TOKEN_CAP = 16


@dataclass(frozen=True, slots=True)
class Section:
    file: str
    note: str
    lines: tuple[str, ...]
    first_line: int
    last_line: int

    def render(self) -> str:
        label = f"[{self.file}, lines {self.first_line}-{self.last_line}{self.note}]"
        return label + "\n" + "\n".join(self.lines)

    def keep_first(self, count: int) -> Section:
        lines = self.lines[:count]
        return replace(self, lines=lines, last_line=self.first_line + len(lines) - 1)

    def keep_last(self, count: int) -> Section:
        lines = self.lines[len(self.lines) - count :]
        return replace(self, lines=lines, first_line=self.last_line - len(lines) + 1)


def file_section(file: str, text: str, note: str = "") -> Section | None:
    """The meaningful part of a file: comments blanked, blank edges dropped.

    None when only headings and blanks are left (an untouched template, an empty log).
    """
    text = blank_comments(text)
    lines = text.replace("\r\n", "\n").split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not any(not _HEADING.match(lines[i]) for i in filled):
        return None
    first, last = filled[0], filled[-1]
    return Section(file, note, tuple(lines[first : last + 1]), first + 1, last + 1)


def hit_section(hit: MemoryHit) -> Section:
    lines = tuple(hit.content.split("\n"))
    return Section(hit.file, ", search result", lines, hit.line_start, hit.line_end)


def pick_hits(hits: list[MemoryHit], included: set[str], wanted: int) -> list[Section]:
    """The best `wanted` hits not already in the prompt: in an included file or
    overlapping a better hit of the same file (neighbouring chunks share lines)."""
    chosen: list[MemoryHit] = []
    for hit in hits:
        if len(chosen) >= wanted:
            break
        if hit.file in included:
            continue
        if any(
            c.file == hit.file and c.line_start <= hit.line_end and hit.line_start <= c.line_end
            for c in chosen
        ):
            continue
        chosen.append(hit)
    return [hit_section(hit) for hit in chosen]


def render(sections: list[Section]) -> str:
    return "\n\n".join(section.render() for section in sections if section.lines)


async def fit(
    memory: Section | None,
    logs: list[Section],
    hits: list[Section],
    *,
    budget_tokens: int,
    count_tokens: CountTokens,
) -> str | None:
    """Render what fits in `budget_tokens`: search hits go first (worst first), then the
    daily logs shrink from their start (oldest lines, oldest log first), then MEMORY.md
    shrinks from its end. Sections are cut at whole lines."""
    if budget_tokens <= 0:
        return None
    cap = budget_tokens * _CHARS_PER_TOKEN_CAP
    files = [_cap(log, cap, from_end=True) for log in logs]
    if memory is not None:
        files.insert(0, _cap(memory, cap, from_end=False))
    hits = list(hits)

    async def fits(sections: list[Section]) -> bool:
        shown = render(sections)
        return bool(shown) and await count_tokens(shown) <= budget_tokens

    while not await fits(files + hits):
        if not hits:
            break
        hits.pop()
    else:
        return render(files + hits)
    # Logs in the order given (yesterday's before today's), then MEMORY.md.
    order = [*range(1, len(files)), 0] if memory is not None else list(range(len(files)))
    for index in order:
        if await fits(files):
            return render(files)
        section = files[index]
        keep = section.keep_first if memory is not None and index == 0 else section.keep_last
        low, high = 0, len(section.lines) - 1  # all of it is known not to fit
        while low < high:
            middle = (low + high + 1) // 2
            if await fits([*files[:index], keep(middle), *files[index + 1 :]]):
                low = middle
            else:
                high = middle - 1
        files[index] = keep(low)
    return render(files) if await fits(files) else None


def _cap(section: Section, chars: int, *, from_end: bool) -> Section:
    total = 0
    count = 0
    lines = reversed(section.lines) if from_end else iter(section.lines)
    for line in lines:
        total += len(line) + 1
        if total > chars:
            break
        count += 1
    if count == len(section.lines):
        return section
    return section.keep_last(count) if from_end else section.keep_first(count)
