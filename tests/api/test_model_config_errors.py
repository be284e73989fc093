"""A model set up wrong is that model's 503 with the reason, never the server's 500."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from roost.config import ModelSettings, Settings
from tests.conftest import running

BROKEN = {
    "claude": ModelSettings(
        provider="anthropic", model="claude-x", api_key_env="ROOST_TEST_UNSET_KEY_19"
    ),
    "big": ModelSettings(provider="llamacpp", path="models/missing.gguf"),
}


@pytest.fixture
def broken(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("ROOST_TEST_UNSET_KEY_19", raising=False)
    settings.models.update(BROKEN)
    return settings


async def test_requests_for_a_broken_model_get_503_and_the_rest_is_served(
    broken: Settings, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with running(broken) as env:
            # Named at start, each with its problem.
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any("'claude'" in w and "ROOST_TEST_UNSET_KEY_19" in w for w in warnings)
            assert any("'big'" in w and "missing.gguf" in w for w in warnings)

            openai = await env.client.post(
                "/v1/chat/completions",
                json={"model": "claude", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert openai.status_code == 503
            error = openai.json()["error"]
            assert "model 'claude' is unavailable" in error["message"]
            assert "ROOST_TEST_UNSET_KEY_19" in error["message"]

            native = await env.client.post("/api/chat", json={"message": "hi", "model": "big"})
            assert native.status_code == 503
            assert "missing.gguf" in native.text
            kernel2 = await env.client.post(
                "/api/kernel2/chat",
                json={"messages": [{"role": "user", "content": "hi"}], "model": "big"},
            )
            assert kernel2.status_code == 503

            # The default model still answers.
            fine = await env.client.post("/api/chat", json={"message": "hi"})
            assert fine.status_code == 200
            assert fine.json()["response"] == "you said: hi"
