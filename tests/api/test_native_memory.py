"""The memory API (seed 000) and memory in chat, in process with the watcher running."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from roost.config import Settings
from tests.conftest import Env

pytestmark = pytest.mark.asyncio

NOTES = """# Memory

Durable facts.

## Rust Async Notes
Tokio runs futures on a work-stealing scheduler.
Use async fn with .await; never block inside an async task.

## Garden
Tomatoes need sun.
"""


def workspace(settings: Settings) -> Path:
    return settings.home / "workspace"


async def search(env: Env, q: str, limit: int = 5, key: str | None = None) -> dict[str, Any]:
    headers = {"X-API-Key": key} if key else None
    response = await env.client.get(
        "/api/memory/search", params={"q": q, "limit": limit}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def eventually(env: Env, q: str, check: Any, seconds: float = 2.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await search(env, q)
        if check(found) or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_workspace_has_templates(env: Env, settings: Settings) -> None:
    root = workspace(settings)
    assert (root / "MEMORY.md").is_file()
    assert (root / "HEARTBEAT.md").is_file()
    assert (root / "memory").is_dir()


async def test_watcher_follows_write_edit_delete(env: Env, settings: Settings) -> None:
    path = workspace(settings) / "MEMORY.md"
    path.write_text(NOTES)
    found = await eventually(env, "rust async", lambda f: f["total"] > 0)
    assert found["query"] == "rust async"
    hit = found["results"][0]
    assert hit["file"] == "MEMORY.md"
    assert "Rust Async Notes" in hit["content"]
    assert hit["line_start"] <= 5 <= hit["line_end"]
    assert hit["score"] == 1.0  # the best hit scores 1, others their share of it

    path.write_text(NOTES.replace("Tokio", "Smol"))
    edited = await eventually(env, "smol", lambda f: f["total"] > 0)
    assert edited["results"][0]["file"] == "MEMORY.md"
    assert (await search(env, "tokio"))["total"] == 0

    path.unlink()
    gone = await eventually(env, "smol", lambda f: f["total"] == 0)
    assert gone["total"] == 0


async def test_files_api_write_read_and_search(env: Env) -> None:
    put = await env.client.put("/api/memory/files/notes/cats.md", json={"content": "Cats purr.\n"})
    assert put.status_code == 200, put.text
    read = await env.client.get("/api/memory/files/notes/cats.md")
    assert read.status_code == 200
    assert read.text == "Cats purr.\n"
    found = await search(env, "purr")
    assert found["results"][0]["file"] == "notes/cats.md"
    assert (found["results"][0]["line_start"], found["results"][0]["line_end"]) == (1, 1)


@pytest.mark.parametrize(
    "path",
    ["../secret.md", "a/../../secret.md", "%2e%2e/secret.md", "notes.txt", "..%2fsecret.md"],
)
async def test_traversal_is_refused(env: Env, settings: Settings, path: str) -> None:
    outside = settings.home / "secret.md"
    outside.write_text("top secret")
    read = await env.client.get(f"/api/memory/files/{path}")
    assert read.status_code in (400, 404)
    assert "top secret" not in read.text
    write = await env.client.put(f"/api/memory/files/{path}", json={"content": "pwned"})
    assert write.status_code in (400, 404)
    assert outside.read_text() == "top secret"


async def test_symlink_out_of_the_workspace_is_refused(env: Env, settings: Settings) -> None:
    outside = settings.home / "outside.md"
    outside.write_text("private")
    (workspace(settings) / "link.md").symlink_to(outside)
    read = await env.client.get("/api/memory/files/link.md")
    assert read.status_code in (400, 404)
    assert "private" not in read.text


@pytest.mark.parametrize(
    "q", ['"', "*", "NEAR(", "-", "a:b", "rust AND (", "'", "x" * 4_000, "über café"]
)
async def test_odd_queries_never_error(env: Env, q: str) -> None:
    found = await search(env, q)
    assert isinstance(found["results"], list)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "101"])
async def test_bad_limit_is_400(env: Env, limit: str) -> None:
    response = await env.client.get("/api/memory/search", params={"q": "x", "limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_missing_query_is_400(env: Env) -> None:
    response = await env.client.get("/api/memory/search")
    assert response.status_code == 400


async def test_stats_and_status(env: Env, settings: Settings) -> None:
    (workspace(settings) / "MEMORY.md").write_text(NOTES)
    reindexed = await env.client.post("/api/memory/reindex")
    assert reindexed.status_code == 200
    stats = (await env.client.get("/api/memory/stats")).json()
    assert stats["workspace"] == str(workspace(settings))
    assert stats["files"]["memory_md"] == {
        "size_bytes": len(NOTES.encode()),
        "lines": NOTES.count("\n"),
    }
    assert stats["index"]["chunks"] >= 1
    assert stats["index"]["last_indexed"].endswith("Z")
    assert stats["index"]["database_size_bytes"] > 0
    status = (await env.client.get("/api/status")).json()
    assert status["memory"]["chunks"] == stats["index"]["chunks"]
    assert status["memory"]["files_indexed"] == stats["files"]["total"]


async def test_another_user_never_sees_my_memory(env: Env, settings: Settings) -> None:
    (workspace(settings) / "MEMORY.md").write_text(NOTES)
    await env.client.post("/api/memory/reindex")
    other = await env.new_user_key("other")
    assert (await search(env, "tokio", key=other))["total"] == 0
    response = await env.client.get("/api/memory/files/MEMORY.md", headers={"X-API-Key": other})
    assert "Tokio" not in response.text


async def test_chat_prompt_contains_the_memory_hit(env: Env, settings: Settings) -> None:
    (workspace(settings) / "MEMORY.md").write_text(NOTES)
    await env.client.post("/api/memory/reindex")
    response = await env.client.post(
        "/api/chat", json={"message": "What scheduler does Tokio use?"}
    )
    assert response.status_code == 200
    system = env.provider.requests[-1].messages[0]
    assert system.role == "system"
    assert "work-stealing scheduler" in system.content

    await env.client.post(
        "/api/chat", json={"message": "What scheduler does Tokio use?", "include_memory": False}
    )
    assert "work-stealing" not in env.provider.requests[-1].messages[0].content


async def test_turns_are_logged_to_today_when_asked(env: Env, settings: Settings) -> None:
    await env.client.post("/api/chat", json={"message": "not logged by default"})
    assert list((workspace(settings) / "memory").glob("*.md")) == []
    settings.memory.log_turns = True
    await env.client.post("/api/chat", json={"message": "remember the blue door"})
    logs = list((workspace(settings) / "memory").glob("*.md"))
    assert any("remember the blue door" in log.read_text() for log in logs)


async def test_kernel2_l0_retrieval_uses_memory(env: Env, settings: Settings) -> None:
    (workspace(settings) / "MEMORY.md").write_text(NOTES)
    await env.client.post("/api/memory/reindex")
    body = {
        "messages": [{"role": "user", "content": "What do tomatoes need?"}],
        "metadata": {"enable_l0_retrieval": True},
        "stream": False,
    }
    assert (await env.client.post("/api/kernel2/chat", json=body)).status_code == 200
    assert "Tomatoes need sun" in env.provider.requests[-1].messages[0].content
    body["metadata"] = {"enable_l0_retrieval": False}
    await env.client.post("/api/kernel2/chat", json=body)
    assert env.provider.requests[-1].messages[0].role == "user"


async def test_a_role_with_l0_retrieval_uses_memory(env: Env, settings: Settings) -> None:
    (workspace(settings) / "MEMORY.md").write_text(NOTES)
    await env.client.post("/api/memory/reindex")
    created = await env.client.post(
        "/api/kernel2/roles",
        json={"name": "gardener", "system_prompt": "You garden.", "enable_l0_retrieval": True},
    )
    body = {
        "messages": [{"role": "user", "content": "What do tomatoes need?"}],
        "metadata": {"role_id": created.json()["data"]["id"]},
        "stream": False,
    }
    assert (await env.client.post("/api/kernel2/chat", json=body)).status_code == 200
    system = env.provider.requests[-1].messages[0].content
    assert system.startswith("You garden.")
    assert "Tomatoes need sun" in system
