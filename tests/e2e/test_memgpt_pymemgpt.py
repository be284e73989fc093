"""The real pymemgpt 0.3.25 client (its own venv: tests/e2e/pymemgpt/env.py) against a
real `roost serve` with no embedding model configured: every step of the agent flow."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.backend import BACKEND
from tests.e2e.conftest import PASSWORD, Server
from tests.e2e.pymemgpt.env import FLOW, client_env, client_python

KEYWORD_SEARCH = "sqlite-fts5-bm25" if BACKEND == "sqlite" else "postgresql-tsvector"

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(900)]


def test_the_pymemgpt_client_runs_the_agent_flow(server: Server) -> None:
    python = client_python()
    done = subprocess.run(
        [str(python), str(FLOW), server.url, PASSWORD],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # What archival search really is: keyword search, no vectors, passages of 2,000 chars.
    assert seen["embedding_config"] == {
        "embedding_endpoint_type": "keyword",
        "embedding_endpoint": None,
        "embedding_model": KEYWORD_SEARCH,
        "embedding_dim": 1,
        "embedding_chunk_size": 2000,
    }
    assert seen["llm_model"] == "smollm2"
    assert seen["listed"] == 1
    assert seen["exists"] is True
    assert seen["got"] == "pymemgpt_agent"
    assert seen["human"] == "First name: Ada"
    assert seen["archival"] == ["Ada likes green tea."]
    assert seen["steps"] >= 1
    assert "assistant_message" in seen["reply_kinds"]
    assert seen["roles"][-1] == "user"  # newest first; the first message sent is last
    assert seen["renamed"] == "renamed_agent"
    assert seen["after_delete"] is False
