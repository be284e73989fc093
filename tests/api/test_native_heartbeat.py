"""GET /api/heartbeat/status, POST /api/heartbeat/run and the heartbeat in /api/status."""

from __future__ import annotations

import asyncio

from roost.config import Settings
from roost.providers.scripted import reply
from tests.conftest import Env, running

TASKS = "# Heartbeat\n\n- [ ] Check the backups ran.\n"


async def test_disabled_heartbeat_reports_nothing_yet(env: Env) -> None:
    status = await env.client.get("/api/heartbeat/status")
    assert status.status_code == 200
    assert status.json() == {
        "enabled": False,
        "interval_seconds": 1800.0,
        "last_run": None,
        "next_run": None,
        "last_event": None,
    }
    anonymous = await env.client.get("/api/heartbeat/status", headers={"X-API-Key": ""})
    assert anonymous.status_code == 401


async def test_run_now_ticks_for_the_caller_and_status_shows_it(env: Env) -> None:
    put = await env.client.put("/api/memory/files/HEARTBEAT.md", json={"content": TASKS})
    assert put.status_code == 200
    env.scripts.queue.append(reply("The backups ran at 02:00; ticked off."))
    ran = await env.client.post("/api/heartbeat/run")
    assert ran.status_code == 200
    event = ran.json()
    assert event["status"] == "ran"
    assert event["reason"] is None
    assert event["session_id"] == "heartbeat"
    assert event["response"] == "The backups ran at 02:00; ticked off."
    assert event["duration_ms"] >= 0

    status = (await env.client.get("/api/heartbeat/status")).json()
    assert status["last_run"] == event["started_at"]
    assert status["last_event"] == event
    assert (await env.client.get("/api/status")).json()["heartbeat"] == {
        "enabled": False,
        "last_run": event["started_at"],
        "next_run": None,
    }
    # The turn is an ordinary session of the user's.
    session = (await env.client.get("/api/sessions/heartbeat")).json()
    assert session["messages"][-1]["content"] == "The backups ran at 02:00; ticked off."

    # Nothing open any more: the next run is a recorded skip.
    await env.client.put(
        "/api/memory/files/HEARTBEAT.md", json={"content": TASKS.replace("[ ]", "[x]")}
    )
    skipped = (await env.client.post("/api/heartbeat/run")).json()
    assert (skipped["status"], skipped["reason"]) == ("skipped", "no open tasks in HEARTBEAT.md")
    assert skipped["duration_ms"] == 0
    status = (await env.client.get("/api/heartbeat/status")).json()
    assert status["last_event"]["status"] == "skipped"
    assert status["last_run"] == event["started_at"]

    # Another user sees only their own heartbeat.
    key = await env.new_user_key("alice")
    theirs = (await env.client.get("/api/heartbeat/status", headers={"X-API-Key": key})).json()
    assert (theirs["last_run"], theirs["last_event"]) == (None, None)
    assert (await env.client.get("/api/status", headers={"X-API-Key": key})).json()["heartbeat"][
        "last_run"
    ] is None


async def test_enabled_heartbeat_shows_its_next_run(settings: Settings) -> None:
    settings.heartbeat.enabled = True
    settings.heartbeat.interval = "1s"
    async with running(settings) as env:
        await asyncio.sleep(0)
        heartbeat = (await env.client.get("/api/status")).json()["heartbeat"]
        assert heartbeat["enabled"] is True
        assert heartbeat["next_run"].endswith("Z")
        status = (await env.client.get("/api/heartbeat/status")).json()
        assert status["interval_seconds"] == 1.0
        assert status["next_run"] == heartbeat["next_run"]
