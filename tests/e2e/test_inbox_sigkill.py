"""SIGKILL a real `roost serve` 20 times at random moments while it answers 200 queued
messages in 4 sessions; after the last restart each is answered exactly once, in order.

The model is a real OpenAI-compatible HTTP server (tests/upstreams.py, in this process)
that echoes each message slowly, a word every 50 ms: deliveries take long enough that the
kills land before, during and after model calls.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Server
from tests.upstreams import openai_upstream

pytestmark = pytest.mark.e2e

SESSIONS = 4
KILLS = 20
PER_ROUND = 10  # messages posted after each start: 200 in all


def configure(home: Path, base_url: str) -> None:
    (home / "config.toml").write_text(
        f"""default_model = "remote"

[models.remote]
provider = "openai"
model = "gpt-test"
base_url = "{base_url}"
api_key = "sk-test"

[memory]
include_in_chat = false
watch = false
"""
    )


def unanswered(client: httpx.Client) -> int:
    items = client.get("/api/queue", params={"limit": 1000}).json()["messages"]
    assert not [q for q in items if q["state"] == "failed"], items
    return len(items)


def test_every_message_is_answered_once_in_order_across_sigkills(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    home = tmp_path / "home"
    home.mkdir()
    sent: dict[str, list[str]] = defaultdict(list)
    with openai_upstream(echo=True, chunk_delay=0.05) as upstream:
        configure(home, upstream.base_url)
        server = Server(home, free_port())
        try:
            for round_ in range(KILLS):
                server.start()
                with server.client() as client:
                    for n in range(PER_ROUND):
                        session = f"kill-{(round_ * PER_ROUND + n) % SESSIONS}"
                        content = f"{session} message {len(sent[session])}"
                        response = client.post("/", json={"session": session, "content": content})
                        assert response.status_code == 204, response.text
                        sent[session].append(content)
                time.sleep(rng.uniform(0.05, 1.2))
                server.kill()
            server.start()
            with server.client() as client:
                deadline = time.monotonic() + 90
                while unanswered(client):
                    assert time.monotonic() < deadline, f"queue not drained (seed {seed})"
                    time.sleep(0.2)
                for session, contents in sent.items():
                    detail = client.get(f"/api/sessions/{session}").json()
                    pairs = [(m["role"], m["content"], m["error"]) for m in detail["messages"]]
                    expected = []
                    for content in contents:
                        expected += [("user", content, None), ("assistant", f"re: {content}", None)]
                    assert pairs == expected, f"session {session} (seed {seed})"
        finally:
            server.stop()
        calls = len(upstream.bodies("/v1/chat/completions"))
    assert sum(len(c) for c in sent.values()) == SESSIONS * 50
    # The kills did interrupt model calls: some messages had to be asked again.
    assert calls > SESSIONS * 50, f"no delivery was interrupted (seed {seed})"
