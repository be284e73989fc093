"""llama.cpp models in runner processes: the real SmolLM2 in a real child process."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

from roost.config import Settings, load_settings
from roost.core.errors import ProviderError, Unavailable
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ResponseFormat,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
    UsageChunk,
)
from roost.providers.runner import protocol, supervisor
from roost.providers.runner.provider import RunnerProvider
from roost.providers.runner.statefile import read_all

pytestmark = pytest.mark.model

QUESTION = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "What is the capital of France?"),
]
LONG = ChatRequest(
    [ChatMessage("user", "Write a long story about a lighthouse keeper.")],
    GenerationOptions(max_tokens=400, temperature=0.0),
)


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home=home, env={})


@pytest.fixture
async def provider(settings: Settings):  # type: ignore[no-untyped-def]
    instance = RunnerProvider.from_settings("smollm2", settings.models["smollm2"], settings)
    yield instance
    await instance.close()


def test_requests_and_events_cross_the_channel_unchanged() -> None:
    request = ChatRequest(
        [
            ChatMessage("assistant", "", (ToolCallChunk("c1", "f", {"a": [1, "ü"]}),)),
            ChatMessage("tool", "42", tool_call_id="c1", name="f"),
        ],
        GenerationOptions(temperature=0.2, max_tokens=7, seed=3, stop=["x"]),
        (ToolSpec("f", "does f", {"type": "object"}),),
        ToolChoice("tool", "f"),
        ResponseFormat("json_schema", {"type": "object"}, "out"),
    )
    assert protocol.decode_request(protocol.encode_request(request)) == request
    for event in (
        TextChunk("é\n"),
        ToolCallChunk("call_1", "f", {"x": 1}),
        UsageChunk(3, 4),
        Finish("stop"),
        Finish("stop", "END"),
    ):
        assert protocol.decode_event(protocol.encode_event(9, event)) == event


def _children() -> set[int]:
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    return {int(pid) for pid in path.read_text().split()}


async def test_the_model_runs_in_a_child_process(provider: RunnerProvider) -> None:
    assert not provider.loaded
    assert provider.status().state == "idle"
    before = _children()
    events = [
        e
        async for e in provider.stream(
            ChatRequest(QUESTION, GenerationOptions(max_tokens=20, temperature=0.0))
        )
    ]
    status = provider.status()
    assert status.state == "ready"
    assert status.pid in _children() - before
    assert (status.rss_bytes or 0) > 50_000_000  # the weights live there
    assert "llama_cpp" not in sys.modules or "pytest" in sys.modules  # see the e2e check
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert "Paris" in text
    assert isinstance(events[-1], Finish)
    usage = [e for e in events if isinstance(e, UsageChunk)]
    assert usage
    assert usage[0].completion_tokens > 0
    assert await provider.count_tokens(QUESTION) > 10
    vectors = await provider.embed(["hello", "world"])
    assert len(vectors.vectors) == 2
    assert len(vectors.vectors[0]) > 100


async def test_concurrent_first_calls_share_one_start(provider: RunnerProvider) -> None:
    first, second = await asyncio.gather(provider.load(), provider.load())
    assert first is second
    assert provider.loaded


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_closing_the_stream_cancels_generation_in_the_runner(
    provider: RunnerProvider,
) -> None:
    pid = (await provider.load()).pid
    assert pid is not None
    stream = provider.stream(LONG)
    async for event in stream:
        if isinstance(event, TextChunk):
            break
    await stream.aclose()
    await asyncio.sleep(1.0)  # the runner reads the cancel and stops at the next token
    before = _cpu_seconds(pid)
    await asyncio.sleep(2.0)
    # Still generating, it would burn one or two cores (over half a second in these two
    # seconds even on a machine loaded four times over); stopped, next to nothing.
    assert _cpu_seconds(pid) - before < 0.25
    short = ChatRequest(QUESTION, GenerationOptions(max_tokens=5, temperature=0.0))
    events = [e async for e in provider.stream(short)]
    assert isinstance(events[-1], Finish)


async def test_a_bad_request_is_an_error_for_that_request_only(provider: RunnerProvider) -> None:
    tiny = ChatRequest([ChatMessage("user", "word " * 5000)], GenerationOptions(max_tokens=5))
    with pytest.raises(ProviderError, match="does not fit"):
        _ = [e async for e in provider.stream(tiny)]
    assert provider.status().restarts == 0
    events = [
        e async for e in provider.stream(ChatRequest(QUESTION, GenerationOptions(max_tokens=5)))
    ]
    assert isinstance(events[-1], Finish)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
async def test_a_runner_killed_mid_stream_fails_that_turn_and_is_restarted(
    provider: RunnerProvider, sig: signal.Signals
) -> None:
    received: list[str] = []

    async def read_and_kill() -> None:
        async for event in provider.stream(LONG):
            if isinstance(event, TextChunk):
                received.append(event.text)
                if len(received) == 3:
                    assert pid is not None
                    os.kill(pid, sig)

    pid = (await provider.load()).pid
    with pytest.raises(ProviderError) as failure:
        await read_and_kill()
    assert failure.value.message == f"model process crashed ({sig.name}); restarted"
    assert len(received) >= 3
    status = provider.status()
    assert status.restarts == 1
    assert status.last_error == f"model process crashed ({sig.name})"
    async with asyncio.timeout(60):
        events = [
            e async for e in provider.stream(ChatRequest(QUESTION, GenerationOptions(max_tokens=5)))
        ]
    assert isinstance(events[-1], Finish)
    assert provider.status().state == "ready"
    assert provider.status().pid != pid


async def test_runner_state_is_published_for_roost_models(
    provider: RunnerProvider, settings: Settings
) -> None:
    await provider.load()
    path = settings.home / "run" / f"models-{os.getpid()}.json"
    assert '"state": "ready"' in path.read_text()
    assert read_all(settings.home) == {}  # this process's own file is not another server's
    await provider.close()
    assert not path.exists()


def _crashing_python(tmp_path: Path) -> str:
    """A stand-in interpreter that dies by SIGSEGV as it starts, as a broken build would."""
    script = tmp_path / "python-segv"
    script.write_text("#!/bin/sh\nkill -SEGV $$\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


async def test_a_runner_that_crashes_on_start_makes_its_model_unavailable(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = settings.models["smollm2"]
    broken = RunnerProvider(
        "smollm2",
        model,
        Path(model.path or "/nonexistent.gguf"),
        python=_crashing_python(tmp_path),
    )
    try:
        for _ in range(supervisor.MAX_START_FAILURES - 1):
            with pytest.raises(ProviderError, match=r"crashed while loading \(SIGSEGV\)"):
                await broken.load()
        with pytest.raises(Unavailable, match=r"unavailable: .*crashed while loading \(SIGSEGV\)"):
            await broken.load()
        assert broken.status().state == "unavailable"
        with pytest.raises(Unavailable):  # refused at once, without another start
            _ = [e async for e in broken.stream(ChatRequest(QUESTION))]
        # After the cool-down, one more start is tried.
        monkeypatch.setattr(supervisor.time, "monotonic", lambda: 1e12)
        with pytest.raises(Unavailable):
            await broken.load()
    finally:
        await broken.close()


async def test_a_file_the_runner_cannot_load_is_reported(
    settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    broken = RunnerProvider("broken", settings.models["smollm2"], bad)
    try:
        with pytest.raises(ProviderError, match="cannot load model 'broken'"):
            await broken.load()
    finally:
        await broken.close()


async def test_a_runner_that_never_loads_is_killed_at_the_deadline(tmp_path: Path) -> None:
    script = tmp_path / "python-hang"
    script.write_text("#!/bin/sh\necho loading forever >&2\nexec sleep 60\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    hung = supervisor.Supervisor(
        "hung", {"path": "/nonexistent.gguf"}, load_timeout=1.0, python=str(script)
    )
    try:
        async with asyncio.timeout(20):
            with pytest.raises(ProviderError, match=r"did not load within 1 s"):
                await hung.process()
        assert hung.status().state == "idle"
        assert hung.status().last_error == "model process did not load within 1 s"
    finally:
        await hung.close()


async def test_json_output_is_checked_against_bounds_the_grammar_could_not_hold(
    provider: RunnerProvider,
) -> None:
    # minLength 900 is too long for a grammar: the grammar lets any string through and
    # the finished output is checked against it (docs/tools.md).
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 900}},
        "required": ["name"],
    }
    request = ChatRequest(
        [ChatMessage("user", "Give a JSON object with your name.")],
        GenerationOptions(max_tokens=200, temperature=0.0),
        response_format=ResponseFormat("json_schema", schema, "person"),
    )
    with pytest.raises(ProviderError, match=r"breaks its schema: .*minLength"):
        _ = [e async for e in provider.stream(request)]


async def test_a_request_sent_to_a_runner_that_just_died_goes_to_the_next_one(
    provider: RunnerProvider,
) -> None:
    pid = (await provider.load()).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)  # dead, and this event loop has not yet read the end of its channel
    request = ChatRequest(QUESTION, GenerationOptions(max_tokens=5, temperature=0.0))
    async with asyncio.timeout(60):
        events = [e async for e in provider.stream(request)]
    assert isinstance(events[-1], Finish)  # answered, not "model process crashed"
    status = provider.status()
    assert status.restarts == 1
    assert status.pid != pid
