"""Pulled models (the store in $ROOST_HOME/models) are models like any other: listed and used
by name in every dialect with no config edit, gone when removed — while the server runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.config import ModelSettings, Settings
from roost.providers.catalog import ModelCatalog, check_default
from roost.providers.store.manifest import ModelStore
from tests.conftest import running
from tests.store_helpers import PULLED, put_in_store

pytestmark = pytest.mark.model


def test_a_pulled_model_gets_its_file_and_the_gguf_context(settings: Settings) -> None:
    put_in_store(settings.home)
    model = ModelCatalog(settings).get(PULLED)
    assert model is not None
    assert model.provider == "llamacpp"
    assert Path(model.path or "").is_file()
    # SmolLM2 was trained on 8,192 tokens; unset n_ctx takes that, capped at 4,096.
    assert model.n_ctx == 4096


def test_a_config_table_overrides_only_the_keys_it_sets(settings: Settings) -> None:
    put_in_store(settings.home)
    settings.models[PULLED] = ModelSettings(n_ctx=1024, parallel=2)
    model = ModelCatalog(settings).get(PULLED)
    assert model is not None
    assert (model.n_ctx, model.parallel) == (1024, 2)
    assert model.path is not None
    assert model.path.endswith("SmolLM2-135M-Instruct-Q4_1.gguf")


def test_default_model_may_name_a_pulled_model(settings: Settings) -> None:
    settings.default_model = PULLED
    with pytest.raises(Exception, match="not one of the models"):
        check_default(settings)
    put_in_store(settings.home)
    check_default(settings)


def test_a_damaged_manifest_hides_no_configured_model(settings: Settings) -> None:
    store = ModelStore.for_home(settings.home)
    store.root.mkdir(parents=True)
    store.manifest_path.write_text("{not json")
    assert ModelCatalog(settings).names() == ["smollm2"]


async def test_pulled_models_are_used_by_name_and_gone_when_removed(settings: Settings) -> None:
    async with running(settings) as env:
        client = env.client
        listed = (await client.get("/v1/models")).json()["data"]
        assert PULLED not in [m["id"] for m in listed]

        put_in_store(settings.home)  # as `roost pull` in another process would
        listed = (await client.get("/v1/models")).json()["data"]
        assert PULLED in [m["id"] for m in listed]
        one = await client.get(f"/v1/models/{PULLED}")
        assert one.status_code == 200
        assert one.json()["id"] == PULLED
        native = (await client.get("/api/models")).json()
        assert PULLED in str(native)

        reply = await client.post(
            "/v1/chat/completions",
            json={
                "model": PULLED,
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 8,
                "temperature": 0,
            },
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["model"] == PULLED
        assert reply.json()["choices"][0]["message"]["content"]
        provider = env.app.state.services.providers.peek(PULLED)
        assert provider is not None
        assert provider.loaded
        pid = provider.status().pid
        assert pid is not None

        agent = await client.post(
            "/api/agents",
            json={"config": {"name": "pulled-agent", "model": PULLED}},
        )
        assert agent.status_code == 200, agent.text
        llm = agent.json()["agent_state"]["llm_config"]
        assert (llm["model"], llm["context_window"]) == (PULLED, 4096)

        ModelStore.for_home(settings.home).remove(PULLED)  # `roost models rm`
        listed = (await client.get("/v1/models")).json()["data"]
        assert PULLED not in [m["id"] for m in listed]
        gone = await client.post(
            "/v1/chat/completions",
            json={"model": PULLED, "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert gone.status_code == 404, gone.text
        assert env.app.state.services.providers.peek(PULLED) is None
        await env.app.state.services.providers.close()  # waits for the runner to stop
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True
