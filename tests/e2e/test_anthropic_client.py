"""The official anthropic SDK, unchanged, against a real `roost serve` on the embedded
SmolLM2 model: messages (plain, with a system prompt, with a tool the model must call,
streamed), count_tokens, models, a wrong key; the exchange kept as one conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: each start loads the model again. A database of its
    own: on PostgreSQL the per-test reset would empty the shared one under its feet."""
    home: Path = tmp_path_factory.mktemp("home")
    instance = Server(home, free_port())
    instance.start(backend.dedicated_env("anthropic"))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def sdk(server: Server) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key=PASSWORD, timeout=120) as client:
        yield client


def test_plain_streamed_and_counted(sdk: anthropic.Anthropic, server: Server) -> None:
    plain = sdk.messages.create(model="smollm2", max_tokens=100, messages=QUESTION)  # type: ignore[arg-type]
    assert plain.id.startswith("msg_")
    assert plain.stop_reason in ("end_turn", "max_tokens")
    answer = plain.content[0].text  # type: ignore[union-attr]
    assert "paris" in answer.lower()
    assert plain.usage.input_tokens > 10
    assert plain.usage.output_tokens > 0

    with sdk.messages.stream(model="smollm2", max_tokens=100, messages=QUESTION) as stream:  # type: ignore[arg-type]
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == answer  # greedy by default: the same answer both ways
    assert final.content[0].text == answer  # type: ignore[union-attr]
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens

    # The prompt without the assistant's opening, by the model's own tokenizer.
    counted = sdk.messages.count_tokens(model="smollm2", messages=QUESTION)  # type: ignore[arg-type]
    assert 0 < counted.input_tokens <= plain.usage.input_tokens <= counted.input_tokens + 8

    # Two turns of one conversation, the second resending the first: one session.
    history = [*QUESTION, {"role": "assistant", "content": plain.content}]
    history.append({"role": "user", "content": "And of Italy?"})
    sdk.messages.create(model="smollm2", max_tokens=60, messages=history)  # type: ignore[arg-type]
    with server.client() as native:
        sessions = native.get("/api/sessions").json()["sessions"]
        kept = [
            [
                (m["role"], m["content"])
                for m in native.get(f"/api/sessions/{s['session_id']}").json()["messages"]
            ]
            for s in sessions
            if s["message_count"] == 4
        ]
    # The question, the answer the client resent, the next question and its answer.
    assert [m[:3] for m in kept] == [
        [("user", QUESTION[0]["content"]), ("assistant", answer), ("user", "And of Italy?")]
    ]


def test_a_system_prompt_steers_the_answer(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(
        model="smollm2",
        max_tokens=60,
        system="You are a pirate. Always begin your answer with the word 'Arr'.",
        messages=[{"role": "user", "content": "Say hello."}],
    )
    assert message.content[0].text.lower().startswith("arr")  # type: ignore[union-attr]


def test_a_tool_the_model_calls(sdk: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    message = sdk.messages.create(
        model="smollm2",
        max_tokens=100,
        messages=[question],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert message.stop_reason == "tool_use"
    calls = [b for b in message.content if b.type == "tool_use"]
    assert len(calls) == 1
    call = calls[0]
    assert call.id.startswith("toolu_")
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    assert isinstance(call.input["city"], str)

    # The result goes back; the model answers in text.
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 24 degrees"}
    follow = sdk.messages.create(
        model="smollm2",
        max_tokens=60,
        messages=[
            question,
            {"role": "assistant", "content": message.content},
            {"role": "user", "content": [result]},
        ],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert follow.stop_reason in ("end_turn", "max_tokens", "tool_use")
    assert follow.content


def test_a_streamed_tool_call(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(
        model="smollm2",
        max_tokens=100,
        messages=[{"role": "user", "content": "Weather in Tokyo?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any"},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = next(b for b in final.content if b.type == "tool_use")
    assert call.name == "get_weather"
    assert isinstance(call.input["city"], str)  # type: ignore[index]


def test_models_and_a_wrong_key(sdk: anthropic.Anthropic, server: Server) -> None:
    page = sdk.models.list()
    assert [m.id for m in page.data] == ["smollm2"]
    assert page.data[0].type == "model"
    assert sdk.models.retrieve("smollm2").id == "smollm2"
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.create(model="claude-sonnet-5-5", max_tokens=10, messages=QUESTION)  # type: ignore[arg-type]
    with anthropic.Anthropic(base_url=server.url, api_key="roost_nope", max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.create(model="smollm2", max_tokens=10, messages=QUESTION)  # type: ignore[arg-type]
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.count_tokens(model="smollm2", messages=QUESTION)  # type: ignore[arg-type]


def test_a_stop_sequence_the_model_reaches(sdk: anthropic.Anthropic) -> None:
    plain = sdk.messages.create(model="smollm2", max_tokens=100, messages=QUESTION)  # type: ignore[arg-type]
    answer = plain.content[0].text  # type: ignore[union-attr]
    assert "Paris" in answer
    cut = sdk.messages.create(
        model="smollm2",
        max_tokens=100,
        messages=QUESTION,
        stop_sequences=["Paris"],  # type: ignore[arg-type]
    )
    assert (cut.stop_reason, cut.stop_sequence) == ("stop_sequence", "Paris")
    assert cut.content[0].text == answer[: answer.index("Paris")]  # type: ignore[union-attr]
