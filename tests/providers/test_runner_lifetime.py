"""Memory checks and keep-alive of llama.cpp runners: the real SmolLM2 in real processes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from roost.config import ModelSettings, Settings, load_settings
from roost.core.errors import Unavailable
from roost.providers.base import ChatMessage, ChatRequest, GenerationOptions, TextChunk
from roost.providers.runner import memory
from roost.providers.runner.provider import RunnerProvider

pytestmark = pytest.mark.model

SETTLE_SECONDS = 30.0  # a generous bound on an unload that should take a second


def ask(keep_alive: float | None = None, max_tokens: int = 8) -> ChatRequest:
    return ChatRequest(
        [ChatMessage("user", "What is the capital of France?")],
        GenerationOptions(max_tokens=max_tokens, temperature=0.0, keep_alive=keep_alive),
    )


async def answer(provider: RunnerProvider, request: ChatRequest) -> str:
    text = ""
    async for event in provider.stream(request):
        if isinstance(event, TextChunk):
            text += event.text
    return text


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


async def unloaded_within(provider: RunnerProvider, pid: int, seconds: float) -> None:
    """Idle, and its runner has exited."""
    deadline = time.monotonic() + seconds
    while provider.status().state != "idle" or not gone(pid):
        assert time.monotonic() < deadline, provider.status()
        await asyncio.sleep(0.05)


def build(
    settings: Settings, name: str = "smollm2", budget: memory.Budget | None = None, **own: object
) -> RunnerProvider:
    model = settings.models["smollm2"].model_copy(update=own)
    provider = RunnerProvider.from_settings(name, model, settings)
    if budget is not None:
        provider._budget = budget
    return provider


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home=home, env={})


async def test_keep_alive_0_unloads_when_the_reply_is_done(settings: Settings) -> None:
    provider = build(settings)
    try:
        assert await answer(provider, ask()) != ""
        loaded = provider.status()
        assert loaded.state == "ready"
        assert loaded.pid is not None
        assert loaded.expires_at is not None  # the default 5m from now
        assert 200 < loaded.expires_at - time.time() <= 300

        assert await answer(provider, ask(keep_alive=0)) != ""
        after = provider.status()
        assert (after.state, after.pid, after.rss_bytes, after.restarts) == ("idle", None, None, 0)
        assert gone(loaded.pid)
        assert provider.rss_bytes() == 0
        assert provider._budget.used() == 0  # no longer counted

        assert await answer(provider, ask()) != ""  # loaded again, lazily
        again = provider.status()
        assert again.state == "ready"
        assert again.pid not in (None, loaded.pid)
        assert again.restarts == 0
    finally:
        await provider.close()


async def test_an_idle_model_unloads_after_its_keep_alive_and_loads_again(
    settings: Settings,
) -> None:
    provider = build(settings, keep_alive="1s")
    try:
        assert await answer(provider, ask()) != ""
        first = provider.status()
        assert first.pid is not None
        assert first.expires_at is not None
        assert first.expires_at - time.time() <= 1.0
        await unloaded_within(provider, first.pid, SETTLE_SECONDS)
        assert provider.status().restarts == 0  # an unload is not a crash

        assert await answer(provider, ask()) != ""
        assert provider.status().state == "ready"
    finally:
        await provider.close()


async def test_keep_alive_minus_1_keeps_the_model_past_its_own_keep_alive(
    settings: Settings,
) -> None:
    provider = build(settings, keep_alive="1s")
    try:
        assert await answer(provider, ask(keep_alive=-1)) != ""
        loaded = provider.status()
        assert loaded.expires_at is None  # never
        await asyncio.sleep(2.5)  # the model's own 1 s would have unloaded it
        assert provider.status().state == "ready"
        assert provider.status().pid == loaded.pid

        # A request without keep_alive brings back the model's own.
        assert await answer(provider, ask()) != ""
        assert loaded.pid is not None
        await unloaded_within(provider, loaded.pid, SETTLE_SECONDS)
    finally:
        await provider.close()


async def test_a_request_arriving_while_the_model_unloads_is_answered(
    settings: Settings,
) -> None:
    provider = build(settings)
    try:
        assert await answer(provider, ask()) != ""
        old = provider.status().pid
        assert old is not None
        stopping = provider._lifetime.expire()  # unloading, not yet exited
        assert stopping is not None
        assert not stopping.done()
        assert await answer(provider, ask()) != ""
        assert stopping.done()
        assert gone(old)
        now = provider.status()
        assert now.state == "ready"
        assert now.pid not in (None, old)
        assert now.restarts == 0
    finally:
        await provider.close()


async def test_stop_unloads_once_the_request_in_flight_is_done(settings: Settings) -> None:
    provider = build(settings, keep_alive=-1)
    try:
        assert not await provider.unload()  # nothing loaded yet
        events = provider.stream(ask(max_tokens=48))
        first = await anext(events)  # generating now
        pid = provider.status().pid
        assert pid is not None
        assert await provider.unload()  # not now: its request goes on
        assert provider.status().state == "ready"
        text = "".join(
            e.text for e in [first, *[e async for e in events]] if isinstance(e, TextChunk)
        )
        assert text != ""  # the request was answered whole
        status = provider.status()
        assert (status.state, status.pid, status.restarts) == ("idle", None, 0)
        assert gone(pid)
    finally:
        await provider.close()


async def test_the_estimate_covers_what_the_runner_really_takes(settings: Settings) -> None:
    provider = build(settings)
    try:
        assert await answer(provider, ask(max_tokens=32)) != ""
        needed = provider.estimate()
        assert needed is not None
        rss = provider.status().rss_bytes
        assert rss is not None
        # An upper bound, but not a wild one (measured: 370 MiB of a 402 MiB estimate).
        assert needed.total * 0.7 <= rss <= needed.total, (rss, needed)
        assert provider.status().memory_bytes == needed.total
    finally:
        await provider.close()


async def test_a_model_that_does_not_fit_is_refused_with_both_numbers(
    settings: Settings,
) -> None:
    budget = memory.Budget(limit=100 * 2**20)
    provider = build(settings, budget=budget)
    try:
        with pytest.raises(Unavailable) as refused:
            await answer(provider, ask())
        message = refused.value.message
        needed = provider.estimate()
        assert needed is not None
        assert message.startswith(f"model 'smollm2' needs {needed.describe()} but 100 MiB is free")
        assert "(limit 100 MiB, 0 B used by loaded models)" in message
        assert "4 x 2048 tokens" in message
        assert refused.value.retry_after == memory.RETRY_SECONDS
        status = provider.status()
        assert (status.state, status.pid) == ("idle", None)  # no runner was started
    finally:
        await provider.close()


async def test_an_idle_model_is_unloaded_to_make_room_and_a_busy_one_is_not(
    settings: Settings,
) -> None:
    small = settings.models["smollm2"].model_copy(update={"parallel": 1, "n_ctx": 512})
    needed = memory.estimate(build(settings).path, small.n_ctx, small.parallel)
    assert needed is not None
    budget = memory.Budget(limit=int(needed.total * 1.5))  # room for one, not two
    first = build(settings, "first", budget, parallel=1, n_ctx=512)
    second = build(settings, "second", budget, parallel=1, n_ctx=512)
    try:
        assert await answer(first, ask()) != ""
        first_pid = first.status().pid
        assert first_pid is not None

        assert await answer(second, ask()) != ""  # `first` was idle: it made room
        assert first.status().state == "idle"
        assert gone(first_pid)
        assert second.status().state == "ready"
        assert budget.used() == needed.total

        # While `second` generates, `first` cannot have its memory.
        long = ask(max_tokens=400)
        events = second.stream(long)
        await anext(events)  # generating now
        with pytest.raises(Unavailable, match=r"model 'first' needs .* is free \(limit"):
            await answer(first, ask())
        await events.aclose()
        assert second.status().state == "ready"
    finally:
        await first.close()
        await second.close()
    assert budget.used() == 0


def test_budget_settings_come_from_runners(home: Path) -> None:
    settings = load_settings(home=home, env={"ROOST_RUNNERS_MEMORY_LIMIT": "1GiB"})
    model = ModelSettings()
    provider = RunnerProvider.from_settings("smollm2", model, settings)
    assert provider._budget.limit == 2**30
    assert provider._budget is memory.Budget.for_home(home, 2**30)
    assert os.getpid() > 0
