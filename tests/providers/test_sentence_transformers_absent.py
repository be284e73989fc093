"""Without the optional `embeddings` extra, a sentence-transformers model says what to
install (at start, through probe, and on use) instead of failing with an ImportError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from roost.core.errors import ProviderError
from roost.providers.sentence_transformers import SentenceTransformerProvider


@pytest.fixture
def absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SentenceTransformerProvider:
    for name in ("sentence_transformers", "torch", "transformers"):
        monkeypatch.setitem(sys.modules, name, None)  # `import name` raises ImportError
    return SentenceTransformerProvider("minilm", tmp_path)


async def test_probe_names_the_extra(absent: SentenceTransformerProvider) -> None:
    assert await absent.probe() == (
        "sentence-transformers is not installed (pip install 'roost[embeddings]')"
    )


async def test_embedding_names_the_extra(absent: SentenceTransformerProvider) -> None:
    with pytest.raises(
        ProviderError, match=r"is not installed \(pip install 'roost\[embeddings\]'\)"
    ):
        await absent.embed(["hello"])
