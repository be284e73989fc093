"""An in-memory stand-in for `roost.storage.memory.MemoryIndexRepository`, and a way to
get either it or the real repository (on a SQLite file) for the memory tests."""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from roost.core.clock import utcnow
from roost.core.records import IndexedFile, IndexStats, MemoryChunk, MemoryHit
from tests import backend

_WORD = re.compile(r"\w+")


@dataclass
class FakeMemoryIndex:
    """Keyword search: a chunk scores by the share of query words it contains."""

    data: dict[str, dict[str, tuple[IndexedFile, list[MemoryChunk]]]] = field(default_factory=dict)
    writes: list[list[str]] = field(default_factory=list)  # paths per replace call

    def _user(self, user_id: str) -> dict[str, tuple[IndexedFile, list[MemoryChunk]]]:
        return self.data.setdefault(user_id, {})

    async def files(
        self, user_id: str, paths: Sequence[str] | None = None
    ) -> dict[str, IndexedFile]:
        found = {path: entry for path, (entry, _) in self._user(user_id).items()}
        return found if paths is None else {p: e for p, e in found.items() if p in paths}

    async def replace_file(
        self,
        user_id: str,
        path: str,
        content_hash: str,
        size_bytes: int,
        chunks: list[MemoryChunk],
    ) -> None:
        await self.replace_files(user_id, [(path, content_hash, size_bytes, chunks)])

    async def replace_files(
        self, user_id: str, items: list[tuple[str, str, int, list[MemoryChunk]]]
    ) -> None:
        self.writes.append([item[0] for item in items])
        for path, content_hash, size_bytes, chunks in items:
            entry = IndexedFile(path, content_hash, size_bytes, utcnow())
            self._user(user_id)[path] = (entry, list(chunks))

    async def remove_file(self, user_id: str, path: str) -> bool:
        return await self.remove_files(user_id, [path]) == 1

    async def remove_files(self, user_id: str, paths: list[str]) -> int:
        files = self._user(user_id)
        return sum(files.pop(path, None) is not None for path in paths)

    async def search(self, user_id: str, query: str, limit: int) -> list[MemoryHit]:
        words = {w.lower() for w in _WORD.findall(query)}
        if not words:
            return []
        hits = []
        for path, (_, chunks) in self._user(user_id).items():
            for chunk in chunks:
                found = words & {w.lower() for w in _WORD.findall(chunk.text)}
                if found:
                    score = len(found) / (len(words) + 1)
                    hits.append(
                        MemoryHit(path, chunk.text, score, chunk.line_start, chunk.line_end)
                    )
        hits.sort(key=lambda hit: (-hit.score, hit.file, hit.line_start))
        return hits[:limit]

    async def stats(self, user_id: str) -> IndexStats:
        files = self._user(user_id)
        chunks = sum(len(c) for _, c in files.values())
        last = max((entry.indexed_at for entry, _ in files.values()), default=None)
        return IndexStats(len(files), chunks, last)

    async def database_size_bytes(self) -> int:
        return 4096


def real_repository_class() -> Any:
    try:
        module = importlib.import_module("roost.storage.memory")
    except ImportError:
        pytest.skip("roost.storage.memory is not written yet")
    return module.MemoryIndexRepository


@asynccontextmanager
async def memory_index(kind: str, tmp_path: Path) -> AsyncIterator[tuple[Any, str]]:
    """(repository, user id): the fake, or the real repository on the run's database."""
    if kind == "fake":
        yield FakeMemoryIndex(), "user-1"
        return
    repository = real_repository_class()
    from roost.storage import Database, UserRepository

    database = Database(backend.database_url(tmp_path))
    await database.connect()
    try:
        user = await UserRepository(database).ensure_default()
        yield repository(database), user.id
    finally:
        await database.close()


REPO_KINDS = ["fake", "db"]
