"""The official openai SDK against a real `roost serve` on the embedded SmolLM2 model."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture
def sdk(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=PASSWORD, timeout=120) as client:
        yield client


def test_models_and_errors(sdk: openai.OpenAI, server: Server) -> None:
    assert [m.id for m in sdk.models.list().data] == ["smollm2"]
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="roost_nope")
    with bad, pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_real_answer_plain_and_streamed(sdk: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "What is the capital of France?"}]
    plain = sdk.chat.completions.create(model="smollm2", messages=question)  # type: ignore[arg-type]
    answer = plain.choices[0].message.content or ""
    assert "paris" in answer.lower()
    assert plain.usage is not None
    assert plain.usage.prompt_tokens > 10

    stream = sdk.chat.completions.create(
        model="smollm2",
        messages=question,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == answer  # greedy by default: the same answer both ways
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_embeddings_float_and_base64(sdk: openai.OpenAI) -> None:
    # The SDK asks for base64 by default and decodes it; float is the other format.
    default = sdk.embeddings.create(model="smollm2", input=["a cat", "a kitten", "tax law"])
    floats = sdk.embeddings.create(model="smollm2", input="a cat", encoding_format="float")
    vectors = [d.embedding for d in default.data]
    assert len(vectors) == 3
    assert len(vectors[0]) == 576
    assert floats.data[0].embedding == pytest.approx(vectors[0], abs=1e-5)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))  # vectors are normalised

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])
    assert default.usage.prompt_tokens > 0


def test_tool_call_is_valid_on_the_embedded_model(sdk: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    result = sdk.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="required",
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert isinstance(arguments["city"], str)


def test_json_schema_output_is_valid(sdk: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = sdk.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Invent a person with a name and an age."}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
        max_tokens=60,
    )
    value = json.loads(result.choices[0].message.content or "")
    assert isinstance(value["name"], str)
    assert isinstance(value["age"], int)


SEED_EXAMPLE = Path(__file__).with_name("seed001_example.txt")


def test_seed_001_python_example_prints_an_answer(server: Server) -> None:
    # The seed's example verbatim, but for the host/port and the auth header.
    source = SEED_EXAMPLE.read_text()
    source = source.replace('"localhost:8002"', f'"127.0.0.1:{server.port}"')
    source = source.replace(
        '"Accept": "text/event-stream"',
        f'"Accept": "text/event-stream",\n    "X-API-Key": "{PASSWORD}"',
    )
    done = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=120, check=True
    )
    printed = done.stdout.lower()
    assert len(printed.split()) >= 5, done.stdout
    assert "intelligence" in printed or "ai" in printed.split()


def test_roost_as_the_upstream_of_roost(server: Server, tmp_path: Path) -> None:
    """A second roost whose model is the first roost, over the OpenAI API; then cut it."""
    home = tmp_path / "proxy"
    home.mkdir()
    (home / "config.toml").write_text(
        f"""default_model = "remote"
[models.remote]
provider = "openai"
base_url = "{server.url}/v1"
model = "smollm2"
api_key_env = "UPSTREAM_KEY"
timeout = 20
"""
    )
    proxy = Server(home, free_port())
    proxy.start(extra_env={"UPSTREAM_KEY": PASSWORD})
    try:
        with openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PASSWORD, timeout=60) as sdk:
            result = sdk.chat.completions.create(
                model="remote",
                messages=[{"role": "user", "content": "What is the capital of France?"}],
            )
            assert "paris" in (result.choices[0].message.content or "").lower()

            # Stop the upstream mid-stream: the client gets an error, not a hang.
            stream = sdk.chat.completions.create(
                model="remote",
                messages=[{"role": "user", "content": "Write a long story about a dragon."}],
                max_tokens=400,
                stream=True,
            )
            started = time.monotonic()
            got: list[str] = []

            def read() -> None:
                for chunk in stream:
                    got.append(chunk.choices[0].delta.content or "")
                    if len(got) == 3:
                        threading.Thread(target=server.kill).start()

            with pytest.raises(openai.APIError) as caught:
                read()
            assert time.monotonic() - started < 30
            assert "upstream" in str(caught.value).lower() or "ended" in str(caught.value)

            # With the upstream gone, a new request is a 502, promptly.
            with pytest.raises(openai.APIStatusError) as refused:
                sdk.chat.completions.create(
                    model="remote", messages=[{"role": "user", "content": "hi"}]
                )
            assert refused.value.status_code == 502
    finally:
        proxy.stop()
