"""memory_search/get/write/append against a real MemoryService and SQLite index."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from roost.services.tools.memory_tools import MemoryAppend, MemoryGet, MemorySearch, MemoryWrite
from tests.services.tools.conftest import Env, refused

SEARCH, GET, WRITE, APPEND = MemorySearch(), MemoryGet(), MemoryWrite(), MemoryAppend()


async def test_write_then_search_then_get_round_trip(env: Env) -> None:
    body = "# Garden\n\nTomatoes need staking.\nWater the basil daily.\nPrune roses in March.\n"
    assert await WRITE.run(env.context, {"path": "notes/garden.md", "content": body}) == (
        f"Wrote notes/garden.md ({len(body)} bytes)."
    )
    assert (env.root / "notes" / "garden.md").read_text() == body
    found = json.loads(await SEARCH.run(env.context, {"query": "basil", "limit": 3}))
    assert found == {
        "hits": [
            {
                "file": "notes/garden.md",
                "lines": "1-5",
                "score": found["hits"][0]["score"],
                "text": body.rstrip("\n"),
            }
        ]
    }
    assert 0 < found["hits"][0]["score"] <= 1
    got = await GET.run(env.context, {"path": "notes/garden.md", "line_start": 3, "line_end": 4})
    assert got == (
        "[notes/garden.md, lines 3-4]\nTomatoes need staking.\nWater the basil daily.\n"
        "[more lines follow: line_start=5]"
    )
    whole = await GET.run(env.context, {"path": "notes/garden.md"})
    assert whole == f"[notes/garden.md, lines 1-5]\n{body}[end of file]"
    # Replacing the file replaces what search finds.
    await WRITE.run(env.context, {"path": "notes/garden.md", "content": "# Garden\n\nAll sold.\n"})
    assert json.loads(await SEARCH.run(env.context, {"query": "basil"})) == {"hits": []}


async def test_append_defaults_to_todays_log_and_is_searchable_at_once(env: Env) -> None:
    today = datetime.now().astimezone().date().isoformat()
    result = await APPEND.run(env.context, {"text": "- Booked the dentist for May 3"})
    assert result == f"Appended 31 bytes to memory/{today}.md."
    log = (env.root / "memory" / f"{today}.md").read_text()
    assert log == f"# {today}\n\n- Booked the dentist for May 3\n"
    hits = json.loads(await SEARCH.run(env.context, {"query": "dentist"}))["hits"]
    assert [hit["file"] for hit in hits] == [f"memory/{today}.md"]
    await APPEND.run(env.context, {"text": "- Called the plumber\n", "path": "MEMORY.md"})
    assert (env.root / "MEMORY.md").read_text().endswith("-->\n- Called the plumber\n")
    hits = json.loads(await SEARCH.run(env.context, {"query": "plumber"}))["hits"]
    assert [hit["file"] for hit in hits] == ["MEMORY.md"]


async def test_memory_paths_are_confined_to_markdown_in_the_workspace(
    env: Env, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("secret\n")
    (env.root / "leak.md").symlink_to(outside)
    (env.root / "notes.txt").write_text("not memory\n")
    for path in ("../../etc/passwd", "/etc/passwd", "leak.md", "notes.txt", ".hidden.md"):
        await refused(GET, env.context, path=path)
        await refused(WRITE, env.context, path=path, content="x")
        await refused(APPEND, env.context, path=path, text="x")
    assert outside.read_text() == "secret\n"
    assert await refused(GET, env.context, path="leak.md") == "path leads outside the workspace"
    assert await refused(GET, env.context, path="notes.txt") == (
        "only .md files can be read or written"
    )


async def test_get_reports_ranges_and_missing_files(env: Env) -> None:
    (env.root / "short.md").write_text("one\ntwo\n")
    assert await refused(GET, env.context, path="missing.md") == "missing.md: no such file"
    assert await refused(GET, env.context, path="short.md", line_start=5) == (
        "line 5 is past the end: the file has 2 lines"
    )
    assert await refused(GET, env.context, path="short.md", line_start=2, line_end=1) == (
        "argument 'line_end' must not be before line_start"
    )
    (env.root / "empty.md").write_text("")
    assert await GET.run(env.context, {"path": "empty.md"}) == "[empty.md: empty]"


async def test_get_output_is_bounded_at_a_whole_line(env: Env) -> None:
    lines = [f"line {n:04d} " + "x" * 90 for n in range(1, 1001)]  # 100 chars a line
    (env.root / "long.md").write_text("\n".join(lines) + "\n")
    context = env.with_settings(output_chars=1_000)
    got = await GET.run(context, {"path": "long.md"})
    assert got.startswith("[long.md, lines 1-9]\nline 0001 ")
    assert got.endswith("[more lines follow: line_start=10]")
    got = await GET.run(context, {"path": "long.md", "line_start": 995})
    assert got.startswith("[long.md, lines 995-1000]\nline 0995 ")
    assert got.endswith("[end of file]")


async def test_search_output_keeps_whole_hits_within_the_limit(env: Env) -> None:
    for n in range(10):
        await WRITE.run(env.context, {"path": f"n{n}.md", "content": "kiwi " + "y " * 300})
    context = env.with_settings(output_chars=2_000)
    found = json.loads(await SEARCH.run(context, {"query": "kiwi", "limit": 10}))
    assert 1 <= len(found["hits"]) < 10
    assert found["more"].endswith("more hits left out (output limit)")
