"""A GGUF's chat template seen from the APIs: a template that cannot run is that model's 503
in each dialect, a conversation it refuses is a 400 with its words, and a tools-aware
template's call is an OpenAI tool call. Real runners on copies of SmolLM2."""

from __future__ import annotations

import json

import pytest

from roost.config import ModelSettings, Settings
from tests.conftest import running, sse_events
from tests.gguf_copies import smollm2_with, template

pytestmark = pytest.mark.model

BROKEN = "{% for m in messages %}{{ format_turn(m) }}{% endfor %}"


def local(source: str) -> ModelSettings:
    path = smollm2_with(source)
    return ModelSettings(provider="llamacpp", path=str(path), parallel=1, n_ctx=2048, temperature=0)


async def test_a_template_that_cannot_run_is_503_naming_the_model_in_each_dialect(
    settings: Settings,
) -> None:
    settings.models["odd"] = local(BROKEN)
    hi = [{"role": "user", "content": "hi"}]
    async with running(settings) as env:
        openai = await env.client.post(
            "/v1/chat/completions", json={"model": "odd", "messages": hi}
        )
        native = await env.client.post("/api/chat", json={"message": "hi", "model": "odd"})
        kernel2 = await env.client.post("/api/kernel2/chat", json={"messages": hi, "model": "odd"})
    why = "model 'odd' is unavailable: its chat template cannot be used: "
    for response in (openai, native, kernel2):
        assert response.status_code == 503, response.text
        assert why in response.text
        assert "'format_turn' is undefined" in response.text
        assert "[models.odd] chat_template" in response.text
    assert openai.json()["error"]["message"].startswith(why)


async def test_roles_the_template_refuses_are_a_400_with_its_words(settings: Settings) -> None:
    settings.models["strict"] = local(template("strict"))
    settings.models["picky"] = local(template("picky"))
    twice = [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    image = [{"role": "user", "content": "What is in <image>?"}]
    async with running(settings) as env:
        openai = await env.client.post(
            "/v1/chat/completions", json={"model": "picky", "messages": image}
        )
        kernel2 = await env.client.post(
            "/api/kernel2/chat", json={"messages": image, "model": "picky"}
        )
        # Two user messages in a row (OpenAI takes them) are joined into one turn.
        joined = await env.client.post(
            "/v1/chat/completions", json={"model": "strict", "messages": twice, "max_tokens": 3}
        )
        # A system message (roost adds one for local models) goes into the first user turn.
        fine = await env.client.post(
            "/v1/chat/completions",
            json={"model": "strict", "messages": twice[:1], "max_tokens": 3},
        )
    for response in (openai, kernel2):
        assert response.status_code == 400, response.text
        assert (
            "the chat template of model 'picky' refuses this conversation: "
            "Image inputs are not supported by this model"
        ) in response.text
    assert fine.status_code == 200, fine.text
    assert joined.status_code == 200, joined.text


def _called(i: int, city: str) -> list[dict[str, object]]:
    call = {
        "id": f"call_{i}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
    }
    return [
        {"role": "user", "content": f"Weather in {city}?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]


PRIMED = [
    *_called(1, "Oslo"),
    *_called(2, "Rome"),
    *_called(3, "Lima"),
    {"role": "user", "content": "Weather in Paris?"},
]
TOOLS = [
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


async def test_a_call_in_the_templates_format_is_an_openai_tool_call(settings: Settings) -> None:
    settings.models["hermes"] = local(template("hermes"))
    settings.chat.system_prompt = ""  # the prompt exactly as test_template_runner primes it
    body = {"model": "hermes", "messages": PRIMED, "tools": TOOLS, "max_tokens": 60}
    async with running(settings) as env:
        response = await env.client.post("/v1/chat/completions", json=body)
        streamed = await env.client.post("/v1/chat/completions", json={**body, "stream": True})
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert not choice["message"]["content"]
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}

    chunks = [e for e in sse_events(streamed.text) if isinstance(e, dict)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
    assert not "".join(d.get("content") or "" for d in deltas)  # no <tool_call> text leaks
    calls = [t for d in deltas for t in d.get("tool_calls") or []]
    assert calls[0]["function"]["name"] == "get_weather"
    arguments = "".join(t["function"].get("arguments") or "" for t in calls)
    assert json.loads(arguments) == {"city": "Paris"}
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c.get("choices")]
    assert "tool_calls" in finishes
