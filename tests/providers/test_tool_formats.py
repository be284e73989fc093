"""Tool calls in a model family's own format: the parsers on recorded replies, the stream
that holds a call back until it is whole, and when a request takes that path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from roost.providers import constrain
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    ProviderEvent,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
    UsageChunk,
)
from roost.providers.native_tools import native_calls
from roost.providers.tool_formats import Call, Hermes, Llama3, Mistral, ToolFormat, detect
from tests.gguf_copies import template

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 5000}},
        "required": ["city"],
    },
)
TIME = ToolSpec("get_time", "The time now", {"type": "object", "properties": {}})
TOOLS = (WEATHER, TIME)


def test_each_family_is_told_from_its_template() -> None:
    assert isinstance(detect(template("hermes")), Hermes)
    assert isinstance(detect(template("llama3")), Llama3)
    assert isinstance(detect(template("mistral")), Mistral)
    assert detect(template("strict")) is None  # no tools
    assert detect("{% if tools %}{{ tools }}{% endif %}{{ messages }}") is None  # unknown way


# Replies as the families write them (Qwen 2.5, Llama 3.1/3.2, Mistral Nemo / Small 3.2).
@pytest.mark.parametrize(
    ("fmt", "reply", "calls"),
    [
        (
            Hermes(),
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
            [Call("get_weather", {"city": "Oslo"})],
        ),
        (
            Hermes(),
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
            [Call("get_weather", {"city": "Oslo"}), Call("get_time", {})],
        ),
        (  # arguments as a JSON string, and the end tag cut by the end of turn
            Hermes(),
            '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}',
            [Call("get_weather", {"city": "Rome"})],
        ),
        (
            Llama3(),
            '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
            [Call("get_weather", {"city": "Oslo"})],
        ),
        (
            Llama3(),
            '<|python_tag|>{"type": "function", "name": "get_time", "parameters": {}}',
            [Call("get_time", {})],
        ),
        (
            Llama3(),
            '{"name": "get_time", "parameters": {}}; {"name": "get_weather", '
            '"parameters": {"city": "Lima"}}',
            [Call("get_time", {}), Call("get_weather", {"city": "Lima"})],
        ),
        (
            Mistral(),
            '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Oslo"}, '
            '"id": "a1b2c3d4e"}, {"name": "get_time", "arguments": {}}]',
            [Call("get_weather", {"city": "Oslo"}), Call("get_time", {})],
        ),
        (
            Mistral(),
            '[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}[TOOL_CALLS]get_time[ARGS]{}',
            [Call("get_weather", {"city": "Oslo"}), Call("get_time", {})],
        ),
    ],
)
def test_recorded_replies_parse_into_calls(fmt: ToolFormat, reply: str, calls: list[Call]) -> None:
    start = fmt.start(reply)
    assert start is not None
    assert fmt.parse(reply[start:]) == calls


@pytest.mark.parametrize(
    ("fmt", "reply"),
    [
        (Hermes(), '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Os'),
        (Hermes(), '<tool_call>\n{"arguments": {}}\n</tool_call>'),
        (Hermes(), '<tool_call>\n{"name": "get_time", "arguments": []}\n</tool_call>'),
        (Hermes(), '<tool_call>{"name": "get_time", "arguments": {}}</tool_call> and more'),
        (Llama3(), '{"name": "get_weather", "parameters": {"city": "Oslo"}} I called it.'),
        (Mistral(), "[TOOL_CALLS] [not json]"),
    ],
)
def test_what_is_not_a_well_formed_call_does_not_parse(fmt: ToolFormat, reply: str) -> None:
    start = fmt.start(reply)
    assert start is not None
    assert fmt.parse(reply[start:]) is None


async def replay(*events: ProviderEvent) -> AsyncIterator[ProviderEvent]:
    for event in events:
        yield event


async def stream(fmt: ToolFormat, *chunks: str, reason: str = "stop") -> list[ProviderEvent]:
    events = [TextChunk(c) for c in chunks] + [UsageChunk(10, 5), Finish(reason)]
    return [e async for e in native_calls(replay(*events), fmt, TOOLS)]


async def test_text_streams_until_a_call_begins_and_the_call_comes_whole() -> None:
    out = await stream(
        Hermes(),
        "Let me check",
        " that.\n<tool",  # the marker split across chunks is held, not sent
        '_call>\n{"name": "get_weather", ',
        '"arguments": {"city": "Oslo"}}\n</tool_call>',
    )
    assert out[:2] == [TextChunk("Let me check"), TextChunk(" that.\n")]
    call = out[2]
    assert isinstance(call, ToolCallChunk)
    assert (call.name, call.arguments) == ("get_weather", {"city": "Oslo"})
    assert call.id.startswith("call_")
    assert out[3:] == [UsageChunk(10, 5), Finish("tool_calls")]


async def test_a_plain_answer_streams_as_it_comes() -> None:
    out = await stream(Hermes(), "Paris is ", "the capital <b>", "of France.")
    assert out == [
        TextChunk("Paris is "),
        TextChunk("the capital <b>"),
        TextChunk("of France."),
        UsageChunk(10, 5),
        Finish("stop"),
    ]


async def test_a_llama_reply_that_opens_like_json_is_held_until_it_says_name() -> None:
    out = await stream(Llama3(), "{", ' "na', 'me": "get_time", "parameters": {}}')
    assert [type(e) for e in out] == [ToolCallChunk, UsageChunk, Finish]
    text = await stream(Llama3(), "{", ' "x": 1}', " is JSON")
    assert text[:2] == [TextChunk('{ "x": 1}'), TextChunk(" is JSON")]


@pytest.mark.parametrize(
    "call",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Os',  # cut off
        '<tool_call>\n{"name": "launch_rockets", "arguments": {}}\n</tool_call>',  # no such tool
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "' + "x" * 5001 + '"}}'
        "\n</tool_call>",  # breaks the schema's bound
    ],
)
async def test_a_call_roost_cannot_hand_on_comes_back_as_the_text_it_is(call: str) -> None:
    out = await stream(Hermes(), "Sure. ", call, reason="length")
    assert out == [TextChunk("Sure. "), TextChunk(call), UsageChunk(10, 5), Finish("length")]


def test_auto_with_a_template_that_knows_tools_takes_the_native_path() -> None:
    history = [
        ChatMessage("user", "Weather?"),
        ChatMessage("assistant", "", (ToolCallChunk("c1", "get_weather", {"city": "Oslo"}),)),
        ChatMessage("tool", "Sunny", tool_call_id="c1", name="get_weather"),
    ]
    planned = constrain.plan(ChatRequest(history, tools=TOOLS), native=True)
    assert (planned.mode, planned.grammar, planned.template_tools) == ("native", None, TOOLS)
    assert planned.messages == history  # the template writes the tool traffic itself
    for choice in (ToolChoice("required"), ToolChoice("tool", "get_time")):
        forced = constrain.plan(ChatRequest(history, tools=TOOLS, tool_choice=choice), True)
        assert forced.mode == "call"
        assert forced.grammar
        assert forced.messages[-1].role == "user"  # flattened, as the grammar prompt says
    without = constrain.plan(ChatRequest(history, tools=TOOLS), native=False)
    assert without.mode == "call_or_text"
    assert without.template_tools == ()
    none = constrain.plan(ChatRequest(history, tools=TOOLS, tool_choice=ToolChoice("none")), True)
    assert none.mode == "text"
    assert none.messages == history
