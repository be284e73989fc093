"""Memory limits and keep-alive through a real `roost serve`: the real SmolLM2 in real
runner processes, seen through /api/ps, `roost ps` and /proc."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.core import sizes
from roost.providers.llamacpp import embedded_model_path
from roost.providers.runner import memory
from tests.conftest import free_port
from tests.e2e.conftest import Server
from tests.e2e.test_runner import runner_pids

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SETTLE_SECONDS = 30.0  # a generous bound on an unload due after one second


def small() -> memory.Estimate:
    needed = memory.estimate(embedded_model_path(), 1024, 1)
    assert needed is not None
    return needed


def big() -> memory.Estimate:
    needed = memory.estimate(embedded_model_path(), 2048, 4)  # the embedded model's own
    assert needed is not None
    return needed


@pytest.fixture
def tight(tmp_path: Path) -> Any:
    """A limit with room for one small model: not two, not the embedded model's 4 x 2048."""
    home = tmp_path / "home"
    home.mkdir()
    limit = int(small().total * 1.5)
    assert limit < big().total
    (home / "config.toml").write_text(
        f"[runners]\nmemory_limit = {limit}\n\n"
        "[models.first]\nn_ctx = 1024\nparallel = 1\nmax_tokens = 8\ntools = []\n\n"
        "[models.second]\nn_ctx = 1024\nparallel = 1\nmax_tokens = 8\ntools = []\n"
    )
    server = Server(home, free_port())
    server.start()
    try:
        yield server, limit
    finally:
        server.stop()


def roost_ps(server: Server, *args: str) -> str:
    done = server.cli("ps", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def loaded(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/api/ps")
    assert response.status_code == 200, response.text
    return {m["name"]: m for m in response.json()["models"]}


def chat(client: httpx.Client, model: str, **extra: Any) -> httpx.Response:
    return client.post("/api/chat", json={"message": "Hi", "model": model, **extra})


def test_a_model_that_does_not_fit_is_refused_and_idle_ones_make_room(tight: Any) -> None:
    server, limit = tight
    needed = big()
    expected = (
        f"model 'smollm2' needs {needed.describe()} but {sizes.human(limit)} is free "
        f"(limit {sizes.human(limit)}, 0 B used by loaded models)"
    )
    with server.client() as client:
        native = chat(client, "smollm2")
        assert native.status_code == 503, native.text
        assert native.json()["error"]["code"] == "unavailable"
        assert native.json()["error"]["message"].startswith(expected)
        assert native.headers["Retry-After"] == str(memory.RETRY_SECONDS)

        body = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]}
        for stream in (False, True):
            openai = client.post("/v1/chat/completions", json={**body, "stream": stream})
            assert openai.status_code == 503, openai.text
            error = openai.json()["error"]
            assert error["message"].startswith(expected)
            assert (error["type"], error["code"]) == ("server_error", "unavailable")
            assert openai.headers["Retry-After"] == str(memory.RETRY_SECONDS)
        assert loaded(client) == {}
        assert runner_pids(server) == []  # no runner was started for it

        # `first` fits; kept loaded for good, yet idle it gives way to `second`.
        answer = chat(client, "first", keep_alive=-1)
        assert answer.status_code == 200, answer.text
        first = loaded(client)["first"]
        assert first["expires_at"] is None
        assert first["size"] == small().total
        assert first["context_length"] == 1024
        assert (first["slots"], first["slots_busy"], first["queued"]) == (1, 0, 0)
        assert first["details"]["format"] == "gguf"
        assert first["details"]["family"] == "llama"
        assert first["size_vram"] == 0
        assert 0 < first["rss"] <= first["size"]
        assert runner_pids(server) == [first["pid"]]
        listing = roost_ps(server)
        assert listing.splitlines()[0].split() == ["NAME", "SIZE", "PROCESSOR", "UNTIL"]
        assert "first" in listing
        assert "100% CPU" in listing
        assert "Forever" in listing

        assert chat(client, "second", keep_alive="1s").status_code == 200
        now = loaded(client)
        assert list(now) == ["second"]
        assert runner_pids(server) == [now["second"]["pid"]]
        assert not Path(f"/proc/{first['pid']}").exists()

        # `second` unloads after its second of keep-alive: its runner exits.
        deadline = time.monotonic() + SETTLE_SECONDS
        while loaded(client) or runner_pids(server):
            assert time.monotonic() < deadline, loaded(client)
            time.sleep(0.1)
        assert "No models are loaded." in roost_ps(server)
        models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
        assert models["second"]["state"] == "idle"
        assert models["second"]["restarts"] == 0  # an unload is not a crash


def test_keep_alive_0_unloads_once_the_reply_is_done(tight: Any) -> None:
    server, _ = tight
    with server.client() as client:
        body = {"model": "first", "messages": [{"role": "user", "content": "Hi"}]}
        answer = client.post("/v1/chat/completions", json={**body, "keep_alive": 0})
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"]
        assert loaded(client) == {}
        assert runner_pids(server) == []

        # The next request loads it again; without keep_alive it stays the default 5m.
        assert chat(client, "first").status_code == 200
        first = loaded(client)["first"]
        assert first["state"] == "ready"
        assert "4 minutes from now" in roost_ps(server)
        status = client.get("/api/status").json()["models"]
        assert {m["name"]: m["expires_at"] for m in status} == {
            "first": first["expires_at"],
            "second": None,
            "smollm2": None,
        }
        (row,) = json.loads(roost_ps(server, "--json"))
        assert (row["name"], row["pid"], row["size"]) == ("first", first["pid"], first["size"])
        assert row["expires_at"] == first["expires_at"]
        assert row["rss"] > 0

        bad = chat(client, "first", keep_alive="soon")
        assert bad.status_code == 400
        assert "keep_alive" in bad.json()["error"]["message"]
        assert loaded(client)["first"]["pid"] == first["pid"]  # untouched

        # `roost stop` unloads it now, as `ollama stop` does.
        stopped = server.cli("stop", "first", "--url", server.url)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout == "first unloaded\n"
        assert loaded(client) == {}
        assert runner_pids(server) == []
        again = server.cli("stop", "first", "--url", server.url)
        assert again.stdout == "first was not loaded\n"
        unknown = server.cli("stop", "nope", "--url", server.url)
        assert unknown.returncode == 1
        assert unknown.stderr.startswith("roost: the server refused (404): ")
