"""A reindex with hybrid search reports each phase (files, the model's load, the
embedding) and times all of it: the embedding used to run after the count said 100%, and
the time printed left it out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.config import Settings
from roost.providers.base import Embeddings
from roost.services.container import vector_store
from roost.services.memory import MemoryService
from roost.services.memory.vectors import VectorIndex
from roost.storage import Database, UserRepository
from roost.storage.memory import MemoryIndexRepository
from tests import backend

PAUSE = 0.3  # seconds each call to the embedding model takes


class SlowEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts: list[str]) -> Embeddings:
        self.calls += 1
        await asyncio.sleep(PAUSE)
        return Embeddings([[1.0, float(len(t)), 0.5] for t in texts], len(texts))


async def test_reindex_reports_the_embedding_phase_and_times_it(
    settings: Settings, tmp_path: Path
) -> None:
    settings.memory.watch = False
    root = settings.home / "workspace" / "notes"
    root.mkdir(parents=True)
    for n in range(3):
        (root / f"note{n}.md").write_text(f"# Note {n}\n\nSomething worth keeping, number {n}.\n")
    database = Database(backend.database_url(tmp_path))
    await database.connect()
    try:
        user = await UserRepository(database).ensure_default()
        embedder = SlowEmbedder()
        vectors = VectorIndex(vector_store(database), embedder, "slow:test", batch=2)
        service = MemoryService(settings, MemoryIndexRepository(database), vectors=vectors)
        events: list[tuple[str, int, int]] = []
        result = await service.reindex(
            user, progress=lambda phase, done, total: events.append((phase, done, total))
        )
        await service.close()
    finally:
        await database.close()

    phases = [phase for phase, _, _ in events]
    assert phases[0] == "files"
    assert phases.index("model") > max(i for i, p in enumerate(phases) if p == "files")
    embedding = [(done, total) for phase, done, total in events if phase == "embedding"]
    chunks = result.embedded
    assert chunks >= 3  # the three notes (and any template text)
    assert embedding[0] == (0, chunks)
    assert embedding[-1] == (chunks, chunks)
    assert [done for done, _ in embedding] == sorted(done for done, _ in embedding)
    # The probe plus one call per batch of two, each PAUSE long, all inside the time.
    assert embedder.calls == 1 + (chunks + 1) // 2
    assert result.seconds >= embedder.calls * PAUSE


async def test_a_second_reindex_embeds_nothing_and_says_so(
    settings: Settings, tmp_path: Path
) -> None:
    settings.memory.watch = False
    database = Database(backend.database_url(tmp_path))
    await database.connect()
    try:
        user = await UserRepository(database).ensure_default()
        vectors = VectorIndex(vector_store(database), SlowEmbedder(), "slow:test")
        service = MemoryService(settings, MemoryIndexRepository(database), vectors=vectors)
        first = await service.reindex(user)
        events: list[tuple[str, int, int]] = []
        again = await service.reindex(
            user, force=True, progress=lambda *event: events.append(event)
        )
        await service.close()
    finally:
        await database.close()
    assert first.embedded >= 1
    assert again.embedded == 0
    assert ("embedding", 0, 0) in events
    assert "model" not in [phase for phase, _, _ in events]  # loaded by the first run
