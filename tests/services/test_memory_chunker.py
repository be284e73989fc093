"""chunk_markdown: exact line numbers, overlap, long lines, and speed."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from roost.core.records import MemoryChunk
from roost.services.memory.chunker import chunk_markdown


def numbered(count: int, width: int = 40) -> list[str]:
    return [f"line {n} ".ljust(width, "x") for n in range(1, count + 1)]


def assert_exact(text: str, chunks: list[MemoryChunk]) -> None:
    """Every chunk is exactly the lines it claims, and every non-blank line is covered."""
    lines = text.replace("\r\n", "\n").split("\n")
    covered: set[int] = set()
    for chunk in chunks:
        assert 1 <= chunk.line_start <= chunk.line_end <= len(lines)
        if chunk.line_start == chunk.line_end:
            assert chunk.text in lines[chunk.line_start - 1]
        else:
            assert chunk.text == "\n".join(lines[chunk.line_start - 1 : chunk.line_end])
        covered.update(range(chunk.line_start, chunk.line_end + 1))
    assert {n for n, line in enumerate(lines, 1) if line.strip()} <= covered


def test_line_numbers_are_exact_and_chunks_stay_in_budget() -> None:
    text = "\n".join(numbered(200))
    chunks = chunk_markdown(text, chunk_tokens=100, overlap=20)
    assert_exact(text, chunks)
    assert len(chunks) > 10
    assert all(len(c.text) <= 400 for c in chunks)
    assert chunks[0].line_start == 1
    assert chunks[-1].line_end == 200
    # 41 chars a line: 400 chars hold 9 lines (9 * 41 - 1 = 368; 10 lines need 409).
    assert (chunks[0].line_start, chunks[0].line_end) == (1, 9)


def test_neighbours_share_about_the_overlap() -> None:
    text = "\n".join(numbered(200))
    chunks = chunk_markdown(text, chunk_tokens=100, overlap=20)  # 80 chars: one 41-char line
    for before, after in itertools.pairwise(chunks):
        shared = before.line_end - after.line_start + 1
        assert shared == 1, (before, after)
    plain = chunk_markdown(text, chunk_tokens=100, overlap=0)
    for before, after in itertools.pairwise(plain):
        assert after.line_start == before.line_end + 1


def test_overlap_prefers_to_start_at_a_heading() -> None:
    lines = numbered(30)
    plain = chunk_markdown("\n".join(lines), chunk_tokens=100, overlap=50)
    # 200 chars of overlap: the first chunk (lines 1-9) shares its last four lines.
    assert (plain[0].line_end, plain[1].line_start) == (9, 6)
    lines[6] = "## Section two"  # line 7, inside that overlap
    text = "\n".join(lines)
    chunks = chunk_markdown(text, chunk_tokens=100, overlap=50)
    assert_exact(text, chunks)
    assert chunks[1].line_start == 7
    assert chunks[1].text.startswith("## Section two")


def test_a_long_line_is_a_chunk_of_its_own() -> None:
    long = "y" * 1000  # longer than a 400-char chunk, shorter than four
    text = "\n".join([*numbered(5), long, *numbered(5)])
    chunks = chunk_markdown(text, chunk_tokens=100, overlap=20)
    assert_exact(text, chunks)
    assert MemoryChunk(6, 6, long) in chunks
    assert not any(c.line_start < 6 < c.line_end for c in chunks)


def test_a_huge_line_is_cut_by_characters_under_its_line_number() -> None:
    huge = "".join(random.Random(1).choice("abcdef ") for _ in range(5000))
    text = "\n".join(["# title", huge, "end"])
    chunks = chunk_markdown(text, chunk_tokens=100, overlap=20)
    pieces = [c for c in chunks if c.line_start == 2]
    assert len(pieces) > 4
    assert all(c.line_end == 2 and len(c.text) <= 400 for c in pieces)
    assert "".join(c.text for c in pieces).replace(" ", "") == huge.replace(" ", "")
    assert chunks[0] == MemoryChunk(1, 1, "# title")
    assert chunks[-1] == MemoryChunk(3, 3, "end")


@pytest.mark.parametrize("text", ["", "\n", "   \n\n\t\n", "\n" * 5000])
def test_blank_text_has_no_chunks(text: str) -> None:
    assert chunk_markdown(text, chunk_tokens=100, overlap=20) == []


def test_small_file_is_one_chunk_and_trailing_newline_adds_no_line() -> None:
    assert chunk_markdown("# Memory\n\n- likes tea\n") == [
        MemoryChunk(1, 3, "# Memory\n\n- likes tea")
    ]


def test_unicode_and_crlf_keep_line_numbers() -> None:
    lines = [f"{n}: 日本語のメモ 🦀 café ünïcödé" for n in range(1, 120)]
    text = "\r\n".join(lines) + "\r\n"
    chunks = chunk_markdown(text, chunk_tokens=64, overlap=16)
    assert_exact(text, chunks)
    for chunk in chunks:
        assert chunk.text.split("\n")[0].startswith(f"{chunk.line_start}: ")
        assert "\r" not in chunk.text


def test_blank_edges_are_left_out_and_numbering_continues() -> None:
    text = "\n\nfirst\n" + "\n" * 1000 + "last\n\n"
    for overlap in (0, 8):
        chunks = chunk_markdown(text, chunk_tokens=32, overlap=overlap)
        assert chunks == [MemoryChunk(3, 3, "first"), MemoryChunk(1004, 1004, "last")]


def test_overlap_larger_than_a_chunk_still_advances() -> None:
    text = "\n".join(numbered(100))
    chunks = chunk_markdown(text, chunk_tokens=50, overlap=500)
    assert_exact(text, chunks)
    starts = [c.line_start for c in chunks]
    assert starts == sorted(set(starts))


def test_chunking_is_fast() -> None:
    """Well over 20 MB/s: no per-character Python loop (this takes ~70 MB/s here)."""
    rng = random.Random(7)
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "rust",
        "async",
        "memory",
        "note",
        "project",
        "meeting",
    ]
    lines = [
        "## " + " ".join(rng.choices(words, k=4))
        if rng.random() < 0.05
        else " ".join(rng.choices(words, k=rng.randint(0, 25)))
        for _ in range(150_000)
    ]
    text = "\n".join(lines)
    megabytes = len(text) / 1e6
    best = min(_timed(text) for _ in range(3))
    assert megabytes / best > 20, f"{megabytes / best:.0f} MB/s"


def _timed(text: str) -> float:
    started = time.perf_counter()
    chunk_markdown(text)
    return time.perf_counter() - started
