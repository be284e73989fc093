"""Hybrid memory search with a real embedding model on CPU, no torch needed: llama.cpp
embeddings of the shipped SmolLM2 GGUF, configured as a user would (a `[models.x]`
llamacpp model, in its runner process). MiniLM (the `embeddings` extra) has its own tests
in test_memory_minilm.py.

The workspace, the index and the vectors are real, on the test run's database (sqlite-vec
on SQLite, the brute-force scan on PostgreSQL); a counting wrapper around the provider
shows which texts were embedded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.config import ModelSettings, Settings
from roost.core.errors import ProviderError
from roost.core.records import User
from roost.providers.base import EmbeddingProvider, Embeddings
from roost.providers.registry import ProviderRegistry
from roost.services.container import vector_store
from roost.services.memory import MemoryService
from roost.services.memory.vectors import VectorIndex
from roost.storage import Database, UserRepository
from roost.storage.memory import MemoryIndexRepository
from tests import backend

pytestmark = pytest.mark.model

NOTES = {
    "MEMORY.md": "# Memory\n\n## Pets\n\nMy dog is called Rex and he loves the beach.\n",
    "notes/cooking.md": "# Cooking\n\nRisotto needs arborio rice and patience.\n",
    "notes/work.md": "# Work\n\nThe quarterly report is due on Friday.\n",
}


class Counting:
    """Passes embeddings through and records every text it was asked for."""

    def __init__(self, inner: EmbeddingProvider) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.fail = False

    async def embed(self, texts: list[str]) -> Embeddings:
        if self.fail:
            raise ProviderError("embedding server is down")
        self.texts.extend(texts)
        return await self.inner.embed(texts)


@pytest.fixture
async def setup(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[MemoryService, User, Counting]]:
    settings.memory.watch = False
    settings.models["embed"] = ModelSettings(provider="llamacpp")  # the shipped SmolLM2 GGUF
    registry = ProviderRegistry(settings)
    _, provider = registry.get("embed")
    assert isinstance(provider, EmbeddingProvider)
    root = settings.home / "workspace"
    for name, body in NOTES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    database = Database(backend.database_url(tmp_path))
    await database.connect()
    user = await UserRepository(database).ensure_default()
    counting = Counting(provider)
    vectors = VectorIndex(vector_store(database), counting, "embed:smollm2")
    service = MemoryService(settings, MemoryIndexRepository(database), vectors=vectors)
    await service.start(user)
    await service.wait_vectors()
    try:
        yield service, user, counting
    finally:
        await service.close()
        await database.close()
        await registry.close()


async def test_every_chunk_is_embedded_and_search_is_hybrid(
    setup: tuple[MemoryService, User, Counting],
) -> None:
    service, user, counting = setup
    assert service.search_mode == "hybrid"
    assert any("Rex" in t for t in counting.texts)
    assert any("arborio" in t for t in counting.texts)
    hits = await service.search(user, "dog Rex beach", 3)
    assert hits[0].file == "MEMORY.md"
    assert (hits[0].line_start, hits[0].line_end) == (1, 5)


async def test_keyword_and_vector_agree_on_the_top_hit(
    setup: tuple[MemoryService, User, Counting],
) -> None:
    service, user, _ = setup
    hits = await service.search(user, "risotto rice", 2)
    assert hits[0].file == "notes/cooking.md"


async def test_only_changed_text_is_embedded_again(
    setup: tuple[MemoryService, User, Counting],
) -> None:
    service, user, counting = setup
    first = set(counting.texts)
    assert any("Rex" in t for t in first)
    counting.texts.clear()
    await service.reindex(user, force=True)  # every file re-chunked, no text changed
    assert counting.texts == []
    await service.write_file(user, "notes/work.md", "# Work\n\nThe budget meeting moved.\n")
    assert [t for t in counting.texts if t != "dimension probe"] == [
        "# Work\n\nThe budget meeting moved."
    ]
    hits = await service.search(user, "budget meeting", 1)
    assert hits[0].file == "notes/work.md"


async def test_embedding_failures_fall_back_to_keywords(
    setup: tuple[MemoryService, User, Counting],
) -> None:
    service, user, counting = setup
    counting.fail = True
    hits = await service.search(user, "quarterly report", 2)
    assert hits[0].file == "notes/work.md"  # keyword results, no error
    assert await service.search(user, "puppy", 3) == []  # the vector side is gone
    await service.write_file(user, "notes/new.md", "# New\n\nA new note.\n")  # still indexed
    assert (await service.search(user, "new note", 1))[0].file == "notes/new.md"
    counting.fail = False
    await service.reindex(user)  # the next pass embeds what was missed
    assert any("A new note." in t for t in counting.texts)
