"""Ollama's model routes (/api/tags, /api/show, /api/ps, /api/version), embeddings,
/api/pull for admins, `[ollama] auth = false`, and the listener's app at the root; in
process, with the ollama client where it has a method."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import ollama
import pytest
from asgi_lifespan import LifespanManager

from roost.api.ollama import AtRoot
from roost.app import check_settings, create_app
from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError
from roost.providers.base import Embeddings
from roost.providers.registry import ProviderRegistry
from roost.providers.scripted import ScriptedProvider
from tests.conftest import ADMIN_PASSWORD, Env, Scripts, make_settings, running

pytestmark = pytest.mark.asyncio
BEARER = {"Authorization": f"Bearer {ADMIN_PASSWORD}"}


class Vectors(ScriptedProvider):
    """A model that also embeds: a vector from each text's letters, not of unit length."""

    async def embed(self, texts: list[str]) -> Embeddings:
        vectors = [[float(len(t)), float(sum(map(ord, t)) % 97), 2.0] for t in texts]
        return Embeddings(vectors, prompt_tokens=sum(len(t.split()) for t in texts))


def client_for(env: Env, key: str = ADMIN_PASSWORD) -> ollama.AsyncClient:
    return ollama.AsyncClient(
        host="http://127.0.0.1:31327/ollama",
        headers={"Authorization": f"Bearer {key}"},
        transport=env.client._transport,
    )


async def test_tags_list_every_model_with_a_tag(env: Env) -> None:
    listed = await client_for(env).list()
    names = [m.model for m in listed.models]
    assert "scripted:latest" in names
    assert "smollm2:latest" in names
    smollm2 = next(m for m in listed.models if m.model == "smollm2:latest")
    assert smollm2.details is not None
    assert smollm2.details.format == "gguf"
    assert smollm2.details.family == "llama"
    assert smollm2.details.parameter_size == "135M"
    assert smollm2.details.quantization_level
    assert smollm2.size is not None
    assert smollm2.size > 1_000_000  # the GGUF's bytes


async def test_show_a_local_model(env: Env) -> None:
    client = client_for(env)
    shown = await client.show("smollm2:latest")
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.context_length"] == 8192  # the GGUF header's
    assert shown.modelinfo["general.parameter_count"] > 100_000_000
    assert shown.capabilities == ["completion", "tools", "embedding"]
    assert shown.template is not None
    assert "im_start" in shown.template  # SmolLM2's chat template
    assert shown.modelfile is not None
    source = next(line for line in shown.modelfile.splitlines() if line.startswith("FROM "))
    assert source.endswith(".gguf")
    assert "/" not in source  # the file's name, not the server's folders
    assert shown.parameters is not None
    assert "num_ctx" in shown.parameters
    assert shown.details is not None
    assert shown.details.parameter_size == "135M"
    # The older body key is still read.
    old = await env.client.post("/ollama/api/show", json={"name": "smollm2"})
    assert old.json()["model_info"]["llama.context_length"] == 8192


async def test_show_a_remote_model_gives_what_is_known(home: Path) -> None:
    settings = make_settings(home)
    settings.default_model = "scripted"
    settings.models["remote"] = ModelSettings(
        provider="openai", model="gpt-4o", base_url="http://127.0.0.1:9/v1", context_window=128000
    )
    async with running(settings) as env:
        shown = (await env.client.post("/ollama/api/show", json={"model": "remote"})).json()
        assert shown["model_info"] == {
            "general.architecture": "openai",
            "openai.context_length": 128000,
        }
        assert "thinking" in shown["capabilities"]
        assert shown["details"]["format"] == ""


async def test_unknown_model_is_ollamas_404(env: Env) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client_for(env).show("llama3.2")
    assert (caught.value.status_code, caught.value.error) == (404, "model 'llama3.2' not found")
    missing = await env.client.post("/ollama/api/show", json={})
    assert (missing.status_code, missing.json()) == (400, {"error": "model is required"})


async def test_ps_lists_what_is_loaded(env: Env) -> None:
    running_now = await client_for(env).ps()
    assert running_now.models == []  # scripted models run in no process of roost's


async def test_version_needs_no_key(env: Env) -> None:
    async with httpx.AsyncClient(
        transport=env.client._transport, base_url="http://127.0.0.1:31327"
    ) as bare:
        version = (await bare.get("/ollama/api/version")).json()["version"]
        assert tuple(int(p) for p in version.split(".")) >= (0, 12, 0)
        head = await bare.head("/ollama/api/version")
        assert (head.status_code, head.content) == (200, b"")
        root = await bare.get("/ollama/")
        assert (root.status_code, root.text) == (200, "Ollama is running")
        assert (await bare.get("/ollama/api/tags")).status_code == 401


@pytest.fixture
async def vectors_env(settings: Settings) -> AsyncIterator[Env]:
    scripts = Scripts()
    chat = ScriptedProvider(scripts, name="scripted")
    vectors = Vectors([], name="vectors")

    def build(settings: Settings) -> ProviderRegistry:
        registry = ProviderRegistry(settings)
        registry.install("scripted", chat)
        registry.install("vectors", vectors)
        return registry

    app = create_app(settings, admin_password=ADMIN_PASSWORD, providers=build)
    async with LifespanManager(app, startup_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:31327", headers=BEARER
        ) as client:
            yield Env(app, client, scripts, chat)


async def test_embed_gives_unit_vectors(vectors_env: Env) -> None:
    client = client_for(vectors_env)
    result = await client.embed(model="vectors:latest", input=["one two", "three"])
    assert len(result.embeddings) == 2
    for vector in result.embeddings:
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0)
    assert result.prompt_eval_count == 3
    single = await client.embed(model="vectors", input="one two")
    assert single.embeddings == [result.embeddings[0]]
    legacy = await client.embeddings(model="vectors", prompt="one two")
    assert legacy.embedding == [7.0, float(sum(map(ord, "one two")) % 97), 2.0]  # as it came


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "vectors", "input": 5}, "input"),
        ({"model": "vectors", "input": []}, "must not be empty"),
        ({"model": "vectors", "input": ["x"] * 2049}, "input"),
        ({"model": "vectors", "input": "x", "dimensions": 8}, "dimensions"),
        ({"model": "scripted", "input": "x"}, "cannot make embeddings"),
        ({"input": "x"}, "model"),
    ],
)
async def test_bad_embed_bodies_are_400(
    vectors_env: Env, body: dict[str, object], message: str
) -> None:
    response = await vectors_env.client.post("/ollama/api/embed", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


async def test_pull_is_for_admins(env: Env) -> None:
    key = await env.new_user_key("bob")
    with pytest.raises(ollama.ResponseError) as caught:
        await client_for(env, key).pull("hf.co/test/smollm2-gguf:Q4_1")
    assert caught.value.status_code == 403
    # An admin's bad name is refused before anything is fetched, in Ollama's shape.
    bad = await env.client.post("/ollama/api/pull", json={"model": "../etc/passwd"})
    assert bad.status_code == 400
    assert list(bad.json()) == ["error"]


async def test_auth_false_lets_this_machine_in_without_a_key(home: Path) -> None:
    settings = make_settings(home, ROOST_OLLAMA_AUTH="false")
    settings.default_model = "scripted"
    async with running(settings) as env:
        local = httpx.ASGITransport(app=env.app, client=("127.0.0.1", 5000))
        remote = httpx.ASGITransport(app=env.app, client=("10.1.2.3", 5000))
        body = {
            "model": "scripted",
            "stream": False,
            "messages": [{"role": "user", "content": "x"}],
        }
        async with httpx.AsyncClient(transport=local, base_url="http://127.0.0.1") as bare:
            assert (await bare.get("/ollama/api/tags")).status_code == 200
            assert (await bare.post("/ollama/api/chat", json=body)).status_code == 200
            assert (await bare.get("/api/sessions")).status_code == 401  # Ollama's routes only
            wrong = await bare.get("/ollama/api/tags", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401  # a key that is sent is checked
        async with httpx.AsyncClient(transport=remote, base_url="http://127.0.0.1") as far:
            assert (await far.get("/ollama/api/tags")).status_code == 401


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"ROOST_OLLAMA_BIND": "0.0.0.0"}, "[ollama] bind"),
        ({"ROOST_SERVER_BIND": "0.0.0.0"}, "[server] bind"),
    ],
)
async def test_auth_false_is_refused_off_loopback(
    home: Path, extra: dict[str, str], where: str
) -> None:
    settings = make_settings(home, ROOST_OLLAMA_AUTH="false", ROOST_OLLAMA_PORT="11434", **extra)
    with pytest.raises(ConfigError, match=rf"auth = false is only allowed when \{where}"):
        check_settings(settings)
    check_settings(make_settings(home, ROOST_OLLAMA_PORT="11434", **extra))  # with auth: fine


async def test_the_listener_serves_the_dialect_at_its_root(env: Env) -> None:
    transport = httpx.ASGITransport(app=AtRoot(lambda: env.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:11434") as c:
        probe = await c.get("/")
        assert (probe.status_code, probe.text) == (200, "Ollama is running")
        listed = await c.get("/api/tags", headers=BEARER)
        assert "scripted:latest" in [m["name"] for m in listed.json()["models"]]
        missing = await c.get("/api/nothing", headers=BEARER)
        assert missing.status_code == 404
        assert list(missing.json()) == ["error"]  # Ollama's shape there too
    starting = httpx.ASGITransport(app=AtRoot(lambda: None))
    async with httpx.AsyncClient(transport=starting, base_url="http://127.0.0.1:11434") as c:
        assert (await c.get("/")).status_code == 503
    client = ollama.AsyncClient(host="http://127.0.0.1:11434", headers=BEARER, transport=transport)
    answer = await client.chat(model="scripted", messages=[{"role": "user", "content": "hey"}])
    assert answer.message.content == "you said: hey"


async def test_the_listeners_own_address_is_an_allowed_host(home: Path) -> None:
    settings = make_settings(home, ROOST_OLLAMA_PORT="11434", ROOST_OLLAMA_BIND="192.168.1.5")
    settings.default_model = "scripted"
    async with running(settings) as env:
        transport = httpx.ASGITransport(app=AtRoot(lambda: env.app))
        async with httpx.AsyncClient(transport=transport, base_url="http://192.168.1.5:11434") as c:
            assert (await c.get("/api/tags", headers=BEARER)).status_code == 200
            other = await c.get("/api/tags", headers={**BEARER, "Host": "evil.example"})
            assert other.status_code == 400
            assert "is not allowed" in other.json()["error"]
