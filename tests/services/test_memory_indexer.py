"""Indexer: skip unchanged files, re-chunk changed ones, drop gone ones; on the fake
repository and on the real one over SQLite."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.services.memory.indexer import Indexer
from roost.services.memory.workspace import Workspace
from tests.services.memory_fake import REPO_KINDS, FakeMemoryIndex, memory_index


@pytest.fixture(params=REPO_KINDS)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Any, str]]:
    async with memory_index(request.param, tmp_path) as value:
        yield value


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws")
    (workspace.root / "notes").mkdir()
    (workspace.root / "notes" / "rust.md").write_text("# Rust\n\nasync runtimes: tokio\n")
    (workspace.root / "notes" / "tea.md").write_text("# Tea\n\ngenmaicha is the favourite\n")
    return workspace


async def files_of(repo: Any, user_id: str) -> list[str]:
    return sorted(await repo.files(user_id))


async def test_reindex_skips_unchanged_updates_changed_removes_gone(
    index: tuple[Any, str], workspace: Workspace
) -> None:
    repo, user_id = index
    indexer = Indexer(repo)
    first = await indexer.reindex(user_id, workspace)
    assert (first.indexed, first.skipped, first.removed) == (4, 0, 0)
    assert first.chunks == 4  # each small file is one chunk
    assert await files_of(repo, user_id) == [
        "HEARTBEAT.md",
        "MEMORY.md",
        "notes/rust.md",
        "notes/tea.md",
    ]
    assert [h.file for h in await repo.search(user_id, "tokio", 5)] == ["notes/rust.md"]
    assert await repo.search(user_id, "schedule", 5) == []  # template guidance is a comment

    again = await indexer.reindex(user_id, workspace)
    assert (again.indexed, again.skipped, again.removed, again.chunks) == (0, 4, 0, 0)

    (workspace.root / "notes" / "rust.md").write_text("# Rust\n\nasync runtimes: smol\n")
    (workspace.root / "notes" / "tea.md").unlink()
    changed = await indexer.reindex(user_id, workspace)
    assert (changed.indexed, changed.skipped, changed.removed) == (1, 2, 1)
    assert await repo.search(user_id, "tokio", 5) == []
    assert [h.file for h in await repo.search(user_id, "smol", 5)] == ["notes/rust.md"]
    assert await repo.search(user_id, "genmaicha", 5) == []

    forced = await indexer.reindex(user_id, workspace, force=True)
    assert (forced.indexed, forced.skipped) == (3, 0)


async def test_changed_chunk_settings_rechunk_every_file(
    index: tuple[Any, str], workspace: Workspace
) -> None:
    repo, user_id = index
    await Indexer(repo).reindex(user_id, workspace)
    again = await Indexer(repo, chunk_tokens=64, overlap=0).reindex(user_id, workspace)
    assert again.indexed == 4


async def test_index_paths_indexes_files_and_drops_missing_ones(
    index: tuple[Any, str], workspace: Workspace
) -> None:
    repo, user_id = index
    indexer = Indexer(repo)
    await indexer.reindex(user_id, workspace)
    (workspace.root / "new.md").write_text("kayak trip in june\n")
    (workspace.root / "notes" / "tea.md").unlink()
    result = await indexer.index_paths(
        user_id, workspace, ["new.md", "notes/tea.md", "notes/rust.md", "../escape.md"]
    )
    assert (result.indexed, result.skipped, result.removed) == (1, 1, 1)
    assert [h.file for h in await repo.search(user_id, "kayak", 5)] == ["new.md"]
    assert "notes/tea.md" not in await repo.files(user_id)


async def test_a_folder_path_stands_for_its_files(
    index: tuple[Any, str], workspace: Workspace, tmp_path: Path
) -> None:
    repo, user_id = index
    indexer = Indexer(repo)
    await indexer.reindex(user_id, workspace)
    shutil.move(workspace.root / "notes", tmp_path / "moved-out")
    result = await indexer.index_paths(user_id, workspace, ["notes"])
    assert result.removed == 2
    assert await files_of(repo, user_id) == ["HEARTBEAT.md", "MEMORY.md"]

    shutil.move(tmp_path / "moved-out", workspace.root / "archive")
    result = await indexer.index_paths(user_id, workspace, ["archive"])
    assert result.indexed == 2
    assert [h.file for h in await repo.search(user_id, "tokio", 5)] == ["archive/rust.md"]


async def test_large_workspaces_are_written_in_batches_with_progress(tmp_path: Path) -> None:
    repo = FakeMemoryIndex()
    workspace = Workspace(tmp_path / "ws")
    for n in range(448):
        (workspace.root / "memory" / f"note-{n:03}.md").write_text(f"note number {n}\n")
    seen: list[tuple[int, int]] = []
    result = await Indexer(repo).reindex(
        "u", workspace, progress=lambda done, total: seen.append((done, total))
    )
    assert result.indexed == 450
    assert [len(batch) for batch in repo.writes] == [200, 200, 50]
    assert seen == [(0, 450), (200, 450), (400, 450), (450, 450)]


async def test_undecodable_bytes_do_not_stop_indexing(
    index: tuple[Any, str], workspace: Workspace
) -> None:
    repo, user_id = index
    (workspace.root / "binary.md").write_bytes(b"caf\xe9 \xff\xfe latte\n")
    await Indexer(repo).reindex(user_id, workspace)
    assert [h.file for h in await repo.search(user_id, "latte", 5)] == ["binary.md"]
