"""Provider failures during an agent turn: the stream ends with MemGPT's error event, in
time, and what happened before the failure stays in recall memory."""

from __future__ import annotations

import time

import pytest

from roost.config import ModelSettings, Settings
from roost.core.errors import ProviderError
from tests import backend
from tests.api.memgpt_helpers import call, events_of, kinds, new_agent, say
from tests.conftest import Scripts, running
from tests.upstreams import ToolCall as UpstreamCall
from tests.upstreams import openai_upstream

TIMEOUT = 1.0

# On PostgreSQL a failed turn released its lease and is not run again; only a turn a
# stopped replica cut is (tests/services/test_agent_recovery.py).
RECOVERY_IS_SQLITE_ONLY = "a failed agent turn is tried again at start on SQLite only"


def _remote(settings: Settings, base_url: str) -> None:
    settings.memory.watch = False
    settings.models["remote"] = ModelSettings(
        provider="openai", model="gpt-test", base_url=base_url, api_key="k", timeout=TIMEOUT
    )
    settings.agents.model = "remote"


SEND = UpstreamCall(
    "send_message", {"inner_thoughts": "Greet them.", "message": "Hello there!"}, id="call_1"
)


async def test_a_real_upstream_call_streams_the_four_events(settings: Settings) -> None:
    with openai_upstream(reply="", tool_calls=(SEND,)) as up:
        _remote(settings, up.base_url)
        async with running(settings) as env:
            agent_id = await new_agent(env.client)
            response = await env.client.post(
                f"/api/agents/{agent_id}/messages", json={"message": "hi", "stream": True}
            )
    events = events_of(response.text)
    assert kinds(events) == [
        "internal_monologue",
        "function_call",
        "assistant_message",
        "function_return",
    ]
    assert events[0]["internal_monologue"] == "Greet them."
    assert events[2]["assistant_message"] == "Hello there!"
    sent = up.bodies("/v1/chat/completions")[0]
    assert sent["tool_choice"] == "required"
    assert {t["function"]["name"] for t in sent["tools"]} >= {"send_message", "core_memory_replace"}


@pytest.mark.parametrize("fault", ["stall", "cut", "http_500", "bad_tool_json"])
async def test_upstream_failure_ends_the_stream_with_an_error_event(
    settings: Settings, fault: str
) -> None:
    with openai_upstream(reply="", tool_calls=(SEND,), fault=fault, delay=30.0) as up:
        _remote(settings, up.base_url)
        async with running(settings) as env:
            agent_id = await new_agent(env.client)
            started = time.monotonic()
            response = await env.client.post(
                f"/api/agents/{agent_id}/messages", json={"message": "hi", "stream": True}
            )
            elapsed = time.monotonic() - started
            newest = await env.client.get(
                f"/api/agents/{agent_id}/messages", params={"start": 0, "count": 10}
            )
    events = events_of(response.text)
    assert kinds(events) == ["error"], events
    assert events[0]["error"]
    # The configured timeout (1 s to the next byte) bounds the wait, with the SDK's retries.
    assert elapsed < TIMEOUT * 4 + 5, elapsed
    # The user's message was stored; nothing pretends to answer it.
    assert [m["role"] for m in newest.json()["messages"]] == ["user"]


async def test_failure_mid_chain_keeps_the_steps_before_it(settings: Settings) -> None:
    settings.memory.watch = False
    async with running(settings) as env:
        agent_id = await new_agent(env.client)
        insert = {"inner_thoughts": "Save.", "content": "tea", "request_heartbeat": True}
        env.scripts.queue += [call("archival_memory_insert", insert), [ProviderError("model died")]]
        streamed = await env.client.post(
            f"/api/agents/{agent_id}/messages", json={"message": "I like tea", "stream": True}
        )
        events = events_of(streamed.text)
        assert kinds(events) == ["internal_monologue", "function_call", "function_return", "error"]
        assert events[-1] == {"error": "model died"}
        env.scripts.queue += [call("archival_memory_insert", insert), [ProviderError("again")]]
        plain = await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "x"})
        assert plain.status_code == 502
        assert plain.json() == {"detail": "again"}
        env.scripts.queue.append([ProviderError("third")])
        steps = await env.client.post(
            f"/api/agents/{agent_id}/messages",
            json={"message": "y", "stream_steps": True},
        )
        memory = (await env.client.get(f"/api/agents/{agent_id}/memory")).json()
    assert events_of(steps.text) == [{"error": "third"}, "[DONE]"]
    assert memory["archival_memory"] == 2  # both first steps ran and were kept


@backend.sqlite_only(RECOVERY_IS_SQLITE_ONLY)
async def test_a_message_left_unanswered_is_answered_at_the_next_start(
    settings: Settings,
) -> None:
    """What a crash before the first step leaves (the newest message is the user's) is run
    again at start, once; an answered agent is left alone."""
    settings.memory.watch = False
    async with running(settings) as env:
        waiting = await new_agent(env.client)
        answered = await new_agent(env.client)
        env.scripts.queue += [[ProviderError("model down")], say("Hi!")]
        failed = await env.client.post(f"/api/agents/{waiting}/messages", json={"message": "a"})
        assert failed.status_code == 502
        ok = await env.client.post(f"/api/agents/{answered}/messages", json={"message": "b"})
        assert ok.status_code == 200
    # The script is in place before the start: the resumed turn runs during it.
    async with running(settings, Scripts([say("Sorry, I was away.")])) as env:
        await env.services.agents.drain(10)
        newest = await env.client.get(
            f"/api/agents/{waiting}/messages", params={"start": 0, "count": 3}
        )
        other = await env.client.get(
            f"/api/agents/{answered}/messages", params={"start": 0, "count": 10}
        )
        assert env.scripts.queue == []  # exactly one turn was run again
    roles = [m["role"] for m in reversed(newest.json()["messages"])]
    assert roles == ["user", "assistant", "tool"]
    assert [m["role"] for m in other.json()["messages"]] == ["tool", "assistant", "user"]


@backend.sqlite_only(RECOVERY_IS_SQLITE_ONLY)
async def test_a_restart_says_what_happened_to_a_message_whose_model_was_down(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A turn that failed (model down) is tried again at the next start: the log says it
    was left unanswered and how the new try ended, not that a shutdown cut it."""
    settings.memory.watch = False
    async with running(settings) as env:
        agent_id = await new_agent(env.client)
        env.scripts.queue.append([ProviderError("model down")])
        failed = await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "a"})
        assert failed.status_code == 502
    caplog.clear()
    with caplog.at_level("INFO", logger="roost.services.agents"):
        async with running(settings, Scripts([[ProviderError("still down")]])) as env:
            await env.services.agents.drain(10)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cut by the last shutdown" not in logged
    assert "answered now" not in logged
    assert "1 messages left unanswered (their turn was cut by the last stop, or failed)" in logged
    assert f"agent {agent_id}: its message left unanswered failed again" in logged
    assert "still down" in logged
