"""The heartbeat: its rules, and ticks against the real services with a scripted model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from roost.config import HeartbeatSettings, Settings
from roost.core.errors import ConfigError, ProviderError
from roost.core.events import TurnDone
from roost.core.records import User
from roost.providers.base import TextChunk
from roost.providers.scripted import reply
from roost.services.heartbeat import SESSION_ID, HeartbeatService
from roost.services.heartbeat_rules import (
    active_hours,
    interval_seconds,
    is_ok,
    open_tasks,
    prompt_for,
)
from roost.services.memory.workspace import TEMPLATES
from roost.storage.leases import LeaseRepository
from tests.conftest import Env, running

TASKS = "# Heartbeat\n\n- [ ] Summarise yesterday's log.\n- [x] Water the plants.\n"


def test_open_tasks_ignore_comments_code_and_done_ones() -> None:
    assert open_tasks(TEMPLATES["HEARTBEAT.md"]) == []  # the example sits in a comment
    text = (
        "# Heartbeat\n- [ ] one\n  * [ ] two  \n- [x] done\n- [X] done too\n"
        "<!-- - [ ] hidden -->\n```\n- [ ] in code\n```\n- [] not a box\n+ [ ] three\n"
        "<!-- unclosed\n- [ ] after an unclosed comment\n"
    )
    assert open_tasks(text) == ["one", "two", "three"]


def test_prompt_lists_the_tasks_and_asks_for_heartbeat_ok() -> None:
    prompt = prompt_for(["Summarise yesterday's log."])
    assert "- [ ] Summarise yesterday's log." in prompt
    assert "answer exactly HEARTBEAT_OK" in prompt
    assert "(and 10 more" in prompt_for([f"t{i}" for i in range(60)])


@pytest.mark.parametrize(
    ("answer", "ok"),
    [("HEARTBEAT_OK", True), (" **HEARTBEAT_OK**.\n", True), ("Done: HEARTBEAT_OK soon", False)],
)
def test_heartbeat_ok_is_recognised(answer: str, ok: bool) -> None:
    assert is_ok(answer) is ok


def test_intervals_and_active_hours_are_checked() -> None:
    def hb(**values: object) -> HeartbeatSettings:
        return HeartbeatSettings.model_validate(values)

    assert interval_seconds(hb(interval="30m"), "f") == 1800
    assert interval_seconds(hb(interval="1s"), "f") == 1
    assert interval_seconds(hb(interval="1.5h"), "f") == 5400
    with pytest.raises(ConfigError, match="at least 1s"):
        interval_seconds(hb(interval="500ms"), "f")
    for bad in (
        {"start": "8:00", "end": "22:00"},
        {"start": "08:00"},
        {"start": "09:00", "end": "09:00"},
    ):
        with pytest.raises(ConfigError, match="active_hours in f"):
            active_hours(hb(active_hours=bad), "f")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        active_hours(hb(active_hours={"start": "08:00", "end": "22:00"}, timezone="Mars/Base"), "f")

    day = active_hours(hb(active_hours={"start": "08:00", "end": "22:00"}, timezone="UTC"), "f")
    assert day is not None
    assert day.contains(datetime(2026, 1, 1, 8, 0, tzinfo=UTC))
    assert not day.contains(datetime(2026, 1, 1, 22, 0, tzinfo=UTC))
    night = active_hours(
        hb(active_hours={"start": "22:00", "end": "06:00"}, timezone="Europe/Paris"), "f"
    )
    assert night is not None
    assert night.contains(datetime(2026, 1, 1, 22, 30, tzinfo=UTC))  # 23:30 in Paris
    assert not night.contains(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    assert night.text == "22:00-06:00 Europe/Paris"


async def write_tasks(env: Env, user: User, text: str) -> None:
    await env.services.memory.write_file(user, "HEARTBEAT.md", text)


async def todays_log(env: Env, user: User) -> str:
    today = datetime.now().astimezone().date().isoformat()
    return await env.services.memory.read_file(user, f"memory/{today}.md")


async def test_enabled_heartbeat_ticks_runs_then_skips(settings: Settings) -> None:
    settings.heartbeat.enabled = True
    settings.heartbeat.interval = "1s"
    async with running(settings) as env:
        user = env.services.auth.default_user
        heartbeat = env.services.heartbeat
        assert heartbeat.report(user).next_run is not None
        await write_tasks(env, user, TASKS)
        env.scripts.queue.append(reply("I summarised yesterday's log and ticked it off."))
        for _ in range(100):
            if heartbeat.report(user).last_event is not None:
                break
            await asyncio.sleep(0.05)
        first = heartbeat.report(user)
        assert first.last_event is not None
        assert first.last_event.status == "ran"
        assert first.last_run == first.last_event.started_at
        assert "Summarise yesterday's log." in env.provider.requests[-1].messages[-1].content
        log = await todays_log(env, user)
        assert "Heartbeat\n\n**Heartbeat** (1 open task): I summarised yesterday's log" in log
        _, messages = await env.services.conversations.with_messages(user, SESSION_ID)
        assert [m.role for m in messages] == ["user", "assistant"]

        # The model's tools would tick the task off; here the test does.
        await write_tasks(env, user, TASKS.replace("- [ ]", "- [x]"))
        for _ in range(100):
            event = heartbeat.report(user).last_event
            if event is not None and event.status == "skipped":
                break
            await asyncio.sleep(0.05)
        second = heartbeat.report(user)
        assert second.last_event is not None
        assert second.last_event.status == "skipped"
        assert second.last_event.reason == "no open tasks in HEARTBEAT.md"
        assert second.last_run == first.last_run  # a skip is not a run
        assert len(env.provider.requests) == 1


async def test_busy_user_is_skipped(env: Env) -> None:
    user = env.services.auth.default_user
    await write_tasks(env, user, TASKS)
    env.scripts.queue.append([TextChunk("slow"), 1.0, *reply(" reply")])
    handle = await env.services.turns.start(user, "a long chat")
    await asyncio.sleep(0)
    event = await env.services.heartbeat.tick(user, manual=True)
    assert (event.status, event.reason) == ("skipped", "a turn is running for this user")
    assert isinstance(await handle.result(), TurnDone)
    await env.services.turns.drain(5)
    assert not env.services.turns.user_busy(user.id)


async def test_a_user_busy_on_another_replica_is_skipped(env: Env) -> None:
    user = env.services.auth.default_user
    await write_tasks(env, user, TASKS)
    chat = await env.services.conversations.create(user)
    other = LeaseRepository(env.services.database)  # another replica, mid-turn there
    await other.acquire(f"conversation:{chat.id}", "other:1#x", 30)
    event = await env.services.heartbeat.tick(user, manual=True)
    assert (event.status, event.reason) == ("skipped", "a turn is running for this user")
    await other.release(f"conversation:{chat.id}", "other:1#x")
    env.scripts.queue.append(reply("HEARTBEAT_OK"))
    event = await env.services.heartbeat.tick(user, manual=True)
    assert event.status == "ok"


async def test_active_hours_use_the_injected_clock(env: Env, settings: Settings) -> None:
    user = env.services.auth.default_user
    await write_tasks(env, user, TASKS)
    settings.heartbeat.active_hours = {"start": "08:00", "end": "22:00"}
    settings.heartbeat.timezone = "UTC"
    now = [datetime(2026, 3, 1, 23, 0, tzinfo=UTC)]
    s = env.services
    heartbeat = HeartbeatService(settings, s.turns, s.memory, s.users, clock=lambda: now[0])
    night = await heartbeat.tick(user)
    assert (night.status, night.reason) == ("skipped", "outside active hours (08:00-22:00 UTC)")
    assert night.started_at == now[0]
    now[0] = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    env.scripts.queue.append(reply("HEARTBEAT_OK"))
    morning = await heartbeat.tick(user)
    assert morning.status == "ok"
    assert heartbeat.report(user).last_run == now[0]
    # "Nothing to do" answers are recorded but kept out of the daily log.
    today = datetime.now().astimezone().date().isoformat()
    assert await s.memory.peek_file(user, f"memory/{today}.md") is None
    # A manual tick (roost daemon heartbeat) runs outside the hours too.
    now[0] = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    env.scripts.queue.append(reply("HEARTBEAT_OK"))
    assert (await heartbeat.tick(user, manual=True)).status == "ok"


async def test_a_failed_turn_is_recorded_and_logged(env: Env) -> None:
    user = env.services.auth.default_user
    await write_tasks(env, user, TASKS)
    env.scripts.queue.append([ProviderError("model server is down")])
    event = await env.services.heartbeat.tick(user, manual=True)
    assert (event.status, event.reason) == ("failed", "provider_error: model server is down")
    assert env.services.heartbeat.report(user).last_run == event.started_at
    assert "**Heartbeat failed:** provider_error: model server is down" in await todays_log(
        env, user
    )


async def test_users_without_a_workspace_are_skipped_without_making_one(
    env: Env, home: Path
) -> None:
    bob = await env.services.users.create("bob")
    await env.services.heartbeat.tick_all()
    event = env.services.heartbeat.report(bob).last_event
    assert event is not None
    assert (event.status, event.reason) == ("skipped", "no open tasks in HEARTBEAT.md")
    assert not (home / "workspaces" / bob.id).exists()


def test_bad_heartbeat_settings_stop_the_start(settings: Settings) -> None:
    settings.heartbeat.timezone = "Nowhere/Land"

    async def start() -> None:
        async with running(settings):
            pass

    with pytest.raises(ConfigError, match=r"\[heartbeat\] timezone in .*config.toml"):
        asyncio.run(start())
