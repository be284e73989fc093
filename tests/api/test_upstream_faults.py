"""Upstream model faults through every dialect, table-driven.

The model is a real OpenAI-compatible HTTP server (tests/upstreams.py) that is told to
fail: connection refused (nothing listens yet), HTTP 500, silent beyond the configured
timeout, a stream cut halfway, a tool call with invalid JSON arguments. For each dialect:
the client gets an error in that dialect's own shape (never a 500, never a hang), the
failure is recorded on the stored conversation where the dialect stores one, and the
very next message in the same conversation is answered normally.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from roost.config import ModelSettings, Settings
from tests.api.fault_dialects import ALL, CHATNVIM, Dialect
from tests.conftest import free_port, running
from tests.upstreams import ToolCall, Upstream, openai_upstream

TIMEOUT = 1.0
FAULTS = ["refused", "http_500", "slow", "cut", "bad_tool_json"]
LOOKUP = ToolCall("lookup", {"query": "the weather in Paris today"}, id="call_9")


def remote(settings: Settings, port: int) -> None:
    settings.memory.watch = False
    settings.memory.include_in_chat = False
    settings.models["remote"] = ModelSettings(
        provider="openai",
        model="gpt-test",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="k",
        timeout=TIMEOUT,
    )
    settings.default_model = "remote"
    settings.agents.model = "remote"


def faulty(fault: str, dialect: Dialect) -> dict[str, Any]:
    """The upstream's behaviour for the failing turn."""
    behavior: dict[str, Any] = {"echo": True, "reply": "one two three four five six"}
    behavior |= dialect.good or {}
    if fault == "bad_tool_json":
        calls = (dialect.good or {}).get("tool_calls") or (LOOKUP,)
        return behavior | {"fault": fault, "tool_calls": calls}
    if fault == "slow":
        return behavior | {"fault": "slow", "delay": 30.0}
    return behavior | {"fault": fault}


def good(dialect: Dialect) -> dict[str, Any]:
    base: dict[str, Any] = {"fault": None, "tool_calls": (), "echo": True, "reply": "x"}
    return base | (dialect.good or {})


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("dialect", ALL, ids=str)
async def test_an_upstream_fault_is_reported_recorded_and_survived(
    settings: Settings, dialect: Dialect, fault: str
) -> None:
    port = free_port()
    remote(settings, port)
    async with running(settings) as env:
        target = await dialect.prepare(env)
        # "refused": nothing listens on the model's port until after the first message.
        serving: AbstractContextManager[Upstream | None] = (
            nullcontext() if fault == "refused" else openai_upstream(port=port)
        )
        with serving as up:
            if up is not None:
                up.set(**faulty(fault, dialect))
            started = time.monotonic()
            failed = await dialect.send(env, target, "first question")
            elapsed = time.monotonic() - started
        message = dialect.error_of(failed)
        assert message, f"{dialect}/{fault}: no error reported: {failed.text[:500]}"
        assert elapsed < TIMEOUT * 3 + 5, elapsed  # the timeout bounds the wait
        with openai_upstream(port=port) as up:
            up.set(**good(dialect))
            answered = await dialect.send(env, target, "second question")
            assert dialect.error_of(answered) is None, answered.text[:500]
            expected = "Agent reply" if dialect.good else "re: second question"
            assert dialect.reply_of(answered) == expected
            rows = await dialect.stored(env, target)
    if dialect.stateless:
        return
    assert rows is not None
    assert rows[0][:2] == ("user", "first question")
    assert rows[-2][:2] == ("user", "second question")
    assert rows[-1][0] == "assistant"
    assert rows[-1][2] is None
    failure = rows[1:-2]
    if dialect.good is None:  # a conversation: the failed turn's reply carries the error
        assert len(failure) == 1, rows
        assert failure[0][0] == "assistant", rows
        assert failure[0][2], rows
        assert "provider_error" in failure[0][2], rows
        assert message in failure[0][2], rows
    else:  # a MemGPT agent: the message stays in recall, nothing pretends to answer it
        assert failure == [], rows


@pytest.mark.parametrize("fault", FAULTS)
async def test_chatnvim_deliveries_record_the_fault_and_the_session_goes_on(
    settings: Settings, fault: str
) -> None:
    """POST / answers 204 at once; the worker's tries fail, the failure is recorded
    after the message, and the next message in the session is answered."""
    port = free_port()
    remote(settings, port)
    settings.queue.max_attempts = 2
    settings.queue.retry_backoff = 0.05
    session = "faults-inbox"
    async with running(settings) as env:
        serving: AbstractContextManager[Upstream | None] = (
            nullcontext() if fault == "refused" else openai_upstream(port=port)
        )
        with serving as up:
            if up is not None:
                up.set(**faulty(fault, CHATNVIM))
            queued = await CHATNVIM.send(env, session, "first question")
            assert queued.status_code == 204, queued.text
            failed = await CHATNVIM.stored(env, session)
        with openai_upstream(port=port) as up:
            up.set(**good(CHATNVIM))
            assert (await CHATNVIM.send(env, session, "second question")).status_code == 204
            rows = await CHATNVIM.stored(env, session)
    assert failed == rows[:2]
    assert rows[0] == ("user", "first question", None)
    assert rows[1][0] == "assistant"
    assert rows[1][2]
    assert rows[1][2].startswith("not answered after 2 attempts: provider_error")
    assert rows[2:] == [
        ("user", "second question", None),
        ("assistant", "re: second question", None),
    ]
