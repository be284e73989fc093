"""Grammar-constrained tool calls and JSON on the real SmolLM2; the call parser alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.config import Settings, load_settings
from roost.core.errors import InvalidRequest, ProviderError
from roost.providers import constrain
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ResponseFormat,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)
from roost.providers.llamacpp import LlamaCppProvider

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec("get_time", "The time now", {"type": "object", "properties": {}})
ASK = [ChatMessage("user", "What is the weather in Paris?")]


async def replay(*events: ProviderEvent) -> AsyncIterator[ProviderEvent]:
    for event in events:
        yield event


async def run(mode: constrain.Mode, *events: ProviderEvent) -> list[ProviderEvent]:
    return [e async for e in constrain.as_calls(replay(*events), mode, (WEATHER, TIME))]


async def test_call_text_becomes_a_tool_call() -> None:
    out = await run(
        "call",
        TextChunk('{"name": "get_weather", '),
        TextChunk('"arguments": {"city": "Oslo"}}'),
        Finish("stop"),
    )
    assert isinstance(out[0], ToolCallChunk)
    assert (out[0].name, out[0].arguments) == ("get_weather", {"city": "Oslo"})
    assert out[0].id.startswith("call_")
    assert out[1] == Finish("tool_calls")


async def test_auto_mode_passes_plain_answers_through() -> None:
    out = await run(
        "call_or_text", TextChunk(" "), TextChunk("Sunny"), TextChunk("!"), Finish("stop")
    )
    assert out == [TextChunk(" Sunny"), TextChunk("!"), Finish("stop")]


async def test_a_cut_off_call_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="not complete JSON"):
        await run("call", TextChunk('{"name": "get_weather", "argu'), Finish("length"))


async def test_plan_describes_tools_and_flattens_tool_traffic() -> None:
    request = ChatRequest(
        [
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "weather?"),
            ChatMessage(
                "assistant", "", tool_calls=(ToolCallChunk("c1", "get_weather", {"city": "Oslo"}),)
            ),
            ChatMessage("tool", "rain", tool_call_id="c1", name="get_weather"),
        ],
        tools=(WEATHER,),
    )
    planned = constrain.plan(request)
    assert planned.mode == "call_or_text"
    assert planned.grammar is not None
    assert planned.messages[0].content.startswith("Be brief.")
    assert "get_weather" in planned.messages[0].content
    assert json.loads(planned.messages[2].content) == {
        "name": "get_weather",
        "arguments": {"city": "Oslo"},
    }
    assert planned.messages[3].role == "user"
    assert "rain" in planned.messages[3].content
    none = constrain.plan(ChatRequest(ASK, tools=(WEATHER,), tool_choice=ToolChoice("none")))
    assert none.mode == "text"
    assert none.grammar is None


def test_unusable_schema_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        constrain.plan(
            ChatRequest(ASK, response_format=ResponseFormat("json_schema", {"type": "strange"}))
        )


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home=home, env={})


@pytest.fixture
async def model(settings: Settings) -> AsyncIterator[LlamaCppProvider]:
    instance = LlamaCppProvider.from_settings("smollm2", settings.models["smollm2"], settings)
    yield instance
    await instance.close()


async def collect(provider: LlamaCppProvider, request: ChatRequest) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request)]


GREEDY = GenerationOptions(temperature=0.0, max_tokens=80)


@pytest.mark.model
@pytest.mark.parametrize("choice", [ToolChoice("required"), ToolChoice("tool", "get_weather")])
async def test_smollm2_makes_a_valid_call(model: LlamaCppProvider, choice: ToolChoice) -> None:
    events = await collect(model, ChatRequest(ASK, GREEDY, (WEATHER, TIME), choice))
    calls = [e for e in events if isinstance(e, ToolCallChunk)]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert isinstance(calls[0].arguments["city"], str)
    assert events[-1] == Finish("tool_calls")


@pytest.mark.model
async def test_smollm2_json_schema_output(model: LlamaCppProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    request = ChatRequest(
        [ChatMessage("user", "Invent a person with a name and an age.")],
        GREEDY,
        response_format=ResponseFormat("json_schema", schema),
    )
    text = "".join(e.text for e in await collect(model, request) if isinstance(e, TextChunk))
    value = json.loads(text)
    assert isinstance(value["name"], str)
    assert isinstance(value["age"], int)


@pytest.mark.model
async def test_a_grammar_llama_cpp_rejects_is_an_error_not_a_crash(model: LlamaCppProvider) -> None:
    # llama-cpp-python would segfault on this grammar; roost must refuse it first.
    prompt = await model.render_prompt(ChatRequest(ASK))
    raw = model._stream(ChatRequest(ASK, GREEDY), prompt, "root ::= [^")
    with pytest.raises(InvalidRequest):
        async for _ in raw:
            pass
    # The model still works afterwards.
    events = await collect(model, ChatRequest(ASK, GenerationOptions(max_tokens=5)))
    assert any(isinstance(e, TextChunk) for e in events)


@pytest.mark.model
async def test_embeddings_are_normalised_and_meaningful(model: LlamaCppProvider) -> None:
    result = await model.embed(["a cat", "a kitten", "tax law"])
    assert [len(v) for v in result.vectors] == [576, 576, 576]
    assert sum(x * x for x in result.vectors[0]) == pytest.approx(1.0, abs=1e-3)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(result.vectors[0], result.vectors[1]) > cos(result.vectors[0], result.vectors[2])
    assert result.prompt_tokens > 3
