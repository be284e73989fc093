"""A GGUF's own chat template in the runner: copies of SmolLM2 whose metadata carries a
tools-aware template, one that cannot run, and none at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.config import ModelSettings, load_settings
from roost.core.errors import ConfigError, InvalidRequest, Unavailable
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)
from roost.providers.runner.provider import RunnerProvider
from tests.gguf_copies import smollm2_with, template

pytestmark = pytest.mark.model

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
GREEDY = GenerationOptions(temperature=0.0, max_tokens=60)


def _called(i: int, city: str) -> list[ChatMessage]:
    call = ToolCallChunk(f"call_{i}", "get_weather", {"city": city})
    return [ChatMessage("user", f"Weather in {city}?"), ChatMessage("assistant", "", (call,))]


# Three calls before: the 135M model, greedy, writes the fourth in the template's format.
PRIMED = [*_called(1, "Oslo"), *_called(2, "Rome"), *_called(3, "Lima")]
PRIMED.append(ChatMessage("user", "Weather in Paris?"))


def model(path: Path, **own: object) -> ModelSettings:
    return ModelSettings(path=str(path), temperature=0.0, parallel=1, n_ctx=2048, **own)  # type: ignore[arg-type]


async def test_a_tools_aware_template_gets_the_tools_and_its_call_becomes_a_tool_call() -> None:
    path = smollm2_with(template("hermes"))
    provider = RunnerProvider("hermes-smol", model(path), path)
    try:
        request = ChatRequest(PRIMED, GREEDY, tools=(WEATHER,))
        prompt = await provider.render_prompt(request)
        # The template's own tool block, and the earlier calls in its own format.
        assert prompt.startswith("<|im_start|>system\n# Tools\n\n")
        assert (
            '<tools>\n{"type": "function", "function": {"name": "get_weather", "description": '
            '"Current weather for a city", "parameters": {"type": "object", "properties": '
            '{"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>'
        ) in prompt
        assert (
            '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": '
            '{"city": "Lima"}}\n</tool_call>\n<|im_end|>\n'
        ) in prompt
        assert prompt.endswith(
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"
        )

        events = [e async for e in provider.stream(request)]
        calls = [e for e in events if isinstance(e, ToolCallChunk)]
        assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Paris"})]
        assert not [e for e in events if isinstance(e, TextChunk)]
        assert events[-1] == Finish("tool_calls")

        # `required` keeps the grammar: the tools described in roost's words, calls flattened.
        forced = ChatRequest(PRIMED, GREEDY, tools=(WEATHER,), tool_choice=ToolChoice("required"))
        forced_prompt = await provider.render_prompt(forced)
        assert "<tools>" not in forced_prompt
        assert "You can call these tools" in forced_prompt
        forced_events = [e async for e in provider.stream(forced)]
        assert any(isinstance(e, ToolCallChunk) for e in forced_events)
        assert forced_events[-1] == Finish("tool_calls")
    finally:
        await provider.close()


async def test_a_template_that_cannot_run_makes_the_model_unavailable_saying_why() -> None:
    path = smollm2_with("{% for m in messages %}{{ format_turn(m) }}{% endfor %}")
    provider = RunnerProvider("odd", model(path), path)
    try:
        with pytest.raises(Unavailable) as caught:
            await provider.load()
        assert caught.value.message == (
            "model 'odd' is unavailable: its chat template cannot be used: on a "
            "user/assistant/user conversation: UndefinedError: 'format_turn' is undefined "
            '(set [models.odd] chat_template to a Jinja file, or to "chatml")'
        )
        # Refused at once: no second load is tried for a template that would fail again.
        assert provider.status().state == "unavailable"
        with pytest.raises(Unavailable, match="'format_turn' is undefined"):
            _ = [e async for e in provider.stream(ChatRequest([ChatMessage("user", "hi")]))]
    finally:
        await provider.close()
    # The escape hatch: ChatML instead of the file's template.
    fixed = RunnerProvider("odd", model(path, chat_template="chatml", max_tokens=4), path)
    try:
        prompt = await fixed.render_prompt(ChatRequest([ChatMessage("user", "hi")]))
        assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        events = [e async for e in fixed.stream(ChatRequest([ChatMessage("user", "hi")]))]
        assert isinstance(events[-1], Finish)
    finally:
        await fixed.close()


async def test_a_template_file_setting_and_a_gguf_without_a_template(home: Path) -> None:
    path = smollm2_with(None)
    (home / "strict.jinja").write_text(template("strict"))
    settings = load_settings(home=home, env={})
    own = model(path, chat_template="strict.jinja")  # relative to the home
    provider = RunnerProvider.from_settings("strict", own, settings)
    bare = RunnerProvider("bare", model(path), path)
    try:
        two_users = [ChatMessage("user", "one"), ChatMessage("user", "two")]
        backwards = [ChatMessage("assistant", "one"), ChatMessage("user", "two")]
        with pytest.raises(InvalidRequest, match="refuses this conversation: Conversation roles"):
            await provider.render_prompt(ChatRequest(backwards))
        # Two user turns in a row are joined for it (OpenAI's API allows them).
        joined = await provider.render_prompt(ChatRequest(two_users))
        assert "<start_of_turn>user\none\n\ntwo<end_of_turn>" in joined
        prompt = await provider.render_prompt(
            ChatRequest([ChatMessage("system", "Be brief."), ChatMessage("user", "hi")])
        )
        # Its bos_token is SmolLM2's, which is <|im_start|>.
        assert prompt == (
            "<|im_start|><start_of_turn>user\nBe brief.\n\nhi<end_of_turn>\n<start_of_turn>model\n"
        )
        assert await bare.render_prompt(ChatRequest(two_users)) == (
            "<|im_start|>user\none<|im_end|>\n<|im_start|>user\ntwo<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
    finally:
        await provider.close()
        await bare.close()
    with pytest.raises(ConfigError, match=r"\[models.gone\] chat_template .* is not a file"):
        RunnerProvider.from_settings("gone", model(path, chat_template="gone.jinja"), settings)
