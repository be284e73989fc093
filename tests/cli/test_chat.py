"""`roost chat` and `roost ask`, in-process, with a scripted model standing in."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from roost.config import Settings
from roost.core.errors import ProviderError
from roost.providers.base import ChatRequest, TextChunk
from roost.providers.registry import ProviderRegistry
from roost.providers.scripted import Script, ScriptedProvider, reply
from roost.services import container

Invoke = Callable[..., Result]
RunRoost = Callable[..., subprocess.CompletedProcess[str]]


class LazyScripted(ScriptedProvider):
    """A scripted model that, like llama.cpp, must be loaded before it answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loads = 0

    @property
    def loaded(self) -> bool:
        return self.loads > 0

    async def load(self) -> None:
        self.loads += 1


def _echo(request: ChatRequest) -> Script:
    return reply(f"you said: {request.messages[-1].content}")


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> LazyScripted:
    """Every command builds its services with this model installed as 'scripted'."""
    provider = LazyScripted(_echo, name="scripted")
    real_build = container.build_services

    async def build(settings: Settings, **kwargs: Any) -> container.Services:
        registry = ProviderRegistry(settings)
        registry.install("scripted", provider)
        return await real_build(settings, providers=registry, **kwargs)

    monkeypatch.setattr(container, "build_services", build)
    return provider


def test_ask_streams_the_answer_to_stdout(cli: Invoke, model: LazyScripted) -> None:
    result = cli("ask", "hello there", "--model", "scripted")
    assert result.exit_code == 0, result.output
    assert result.stdout == "you said: hello there\n"
    assert model.loads == 1


def test_ask_reads_the_question_from_stdin(cli: Invoke, model: LazyScripted) -> None:
    result = cli("ask", "-", "-m", "scripted", input="from a pipe")
    assert result.exit_code == 0, result.output
    assert result.stdout == "you said: from a pipe\n"


def test_ask_reports_a_failed_model_and_exits_1(cli: Invoke, model: LazyScripted) -> None:
    model._scripts = [[TextChunk("partial"), ProviderError("the model fell over")]]
    result = cli("ask", "hi", "--model", "scripted")
    assert result.exit_code == 1
    assert result.stdout == "partial\n"
    assert "the model fell over" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_model_names_the_configured_ones(cli: Invoke, model: LazyScripted) -> None:
    result = cli("ask", "hi", "--model", "nope")
    assert result.exit_code == 1
    assert "model 'nope' is not configured" in result.stderr
    assert "smollm2" in result.stderr
    assert result.stderr.count("(configured:") == 1, result.stderr  # once, not twice


def test_chat_keeps_history_and_can_be_resumed(cli: Invoke, model: LazyScripted) -> None:
    result = cli("chat", "-m", "scripted", input="first\n\nsecond\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "you said: first" in result.stdout
    assert "you said: second" in result.stdout
    # The second request carried the first exchange: one session, with history.
    contents = [m.content for m in model.requests[-1].messages]
    assert "first" in contents
    assert "you said: first" in contents
    found = re.search(r"Session (\S+) saved", result.stderr)
    assert found is not None, result.stderr
    session = found.group(1)

    resumed = cli("chat", "-m", "scripted", "--session", session, input="third\n")
    assert resumed.exit_code == 0, resumed.output  # EOF ends the chat like /exit
    assert "4 messages so far" in resumed.stderr
    assert "you said: third" in resumed.stdout
    history = [m.content for m in model.requests[-1].messages]
    assert "second" in history
    assert "third" in history


def test_chat_with_a_new_named_session(cli: Invoke, model: LazyScripted) -> None:
    result = cli("chat", "-m", "scripted", "--session", "work", input="hi\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "new session 'work'" in result.stderr
    again = cli("ask", "more", "-m", "scripted", "--session", "work")
    assert again.exit_code == 0
    assert "hi" in [m.content for m in model.requests[-1].messages]


def test_chat_shows_a_failed_turn_and_goes_on(cli: Invoke, model: LazyScripted) -> None:
    model._scripts = [[ProviderError("out of memory")], reply("fine now")]
    result = cli("chat", "-m", "scripted", input="one\ntwo\n")
    assert result.exit_code == 0, result.output
    assert "out of memory" in result.stderr
    assert "fine now" in result.stdout


@pytest.mark.model
def test_ask_with_the_embedded_model(roost_home: Path, run_roost: RunRoost) -> None:
    (roost_home / "config.toml").write_text("[models.smollm2]\nmax_tokens = 12\nseed = 1\n")
    done = run_roost("ask", "Say hello.", timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "Traceback" not in done.stderr
