"""The workspace watcher: edits on disk reach search within about a second."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from roost.config import Settings
from roost.core.clock import utcnow
from roost.core.records import User
from roost.services.memory import MemoryService, WorkspaceWatcher
from tests.services.memory_fake import REPO_KINDS, memory_index


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 2.0) -> float:
    """Seconds until `check` holds; fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    pytest.fail(f"not seen within {seconds} s")


@pytest.fixture(params=REPO_KINDS)
async def service(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[MemoryService, User]]:
    async with memory_index(request.param, tmp_path) as (repo, user_id):
        memory = MemoryService(settings, repo)
        user = User(user_id, "default", True, utcnow())
        await memory.start(user)
        try:
            yield memory, user
        finally:
            await memory.close()


async def found(memory: MemoryService, user: User, word: str) -> list[str]:
    return [hit.file for hit in await memory.search(user, word)]


async def test_create_edit_delete_reach_search(service: tuple[MemoryService, User]) -> None:
    memory, user = service
    root = memory.workspace_for(user).root

    async def has(word: str, files: list[str]) -> bool:
        return await found(memory, user, word) == files

    (root / "trip.md").write_text("# Trip\n\nbook the ferry to Skye\n")
    took = await eventually(lambda: has("ferry", ["trip.md"]))
    assert took < 1.5  # 300 ms debounce, then the index write

    (root / "trip.md").write_text("# Trip\n\nbook the train to Inverness\n")
    await eventually(lambda: has("inverness", ["trip.md"]))
    assert await found(memory, user, "ferry") == []

    (root / "trip.md").unlink()
    await eventually(lambda: has("inverness", []))
    await eventually(lambda: _true(memory.status() == (2, 2)))  # the two templates are left


async def test_folders_moved_in_and_out_are_seen(
    service: tuple[MemoryService, User], tmp_path: Path
) -> None:
    memory, user = service
    root = memory.workspace_for(user).root
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "a.md").write_text("quokka sighting\n")
    (outside / "b.md").write_text("quokka again\n")

    shutil.move(outside, root / "animals")
    await eventually(
        lambda: _equal(found(memory, user, "quokka"), ["animals/b.md", "animals/deep/a.md"])
    )
    shutil.move(root / "animals", outside)
    await eventually(lambda: _equal(found(memory, user, "quokka"), []))


async def _equal(result: Awaitable[list[str]], expected: list[str]) -> bool:
    return sorted(await result) == expected


async def test_watcher_reports_relative_markdown_paths_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    batches: list[list[str]] = []

    async def on_paths(paths: list[str]) -> None:
        batches.append(paths)

    async def on_rescan() -> Any:
        raise AssertionError("no failure, no rescan")

    watcher = WorkspaceWatcher(root, on_paths, on_rescan, debounce_ms=50)
    await watcher.start()
    assert watcher.running
    (root / "a.md").write_text("a")
    (root / "ignored.txt").write_text("b")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "c.md").write_text("c")
    await eventually(lambda: _true(any("a.md" in batch for batch in batches)))
    await watcher.stop()
    assert not watcher.running
    assert all(path == "a.md" for batch in batches for path in batch)
    await watcher.stop()  # twice is harmless


async def _true(value: bool) -> bool:
    return value


async def test_no_watcher_when_watching_is_off(settings: Settings, tmp_path: Path) -> None:
    settings.memory.watch = False
    async with memory_index("fake", tmp_path) as (repo, user_id):
        memory = MemoryService(settings, repo)
        user = User(user_id, "default", True, utcnow())
        await memory.start(user)
        (memory.workspace_for(user).root / "late.md").write_text("platypus\n")
        await asyncio.sleep(0.6)
        assert await found(memory, user, "platypus") == []
        assert (await memory.reindex(user)).indexed == 1
        assert await found(memory, user, "platypus") == ["late.md"]
        await memory.close()
