"""Chat templates in roost's Jinja environment: what real templates use renders, a template
that cannot give a prompt is refused at load with its reason, one that refuses a
conversation says so as a bad request. No model is loaded here."""

from __future__ import annotations

import datetime

import pytest

from roost.core.errors import InvalidRequest
from roost.providers import gguf_info
from roost.providers.base import ChatMessage, ToolCallChunk, ToolSpec
from roost.providers.llamacpp import embedded_model_path
from roost.providers.template import CHATML, ChatTemplate, TemplateUnusable
from tests.gguf_copies import template

WEATHER = ToolSpec(
    "get_weather",
    "Weather <now> & 'soon' in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TOOL_TURNS = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Weather in Paris?"),
    ChatMessage("assistant", "", (ToolCallChunk("call_abc", "get_weather", {"city": "Paris"}),)),
    ChatMessage("tool", "Sunny", tool_call_id="call_abc", name="get_weather"),
]


def checked(source: str) -> ChatTemplate:
    chat = ChatTemplate(source, "<s>", "</s>", "test-model")
    chat.check()
    return chat


def test_a_hermes_template_renders_tools_calls_and_results_its_own_way() -> None:
    chat = checked(template("hermes"))
    assert chat.tool_format is not None
    assert chat.tool_format.name == "hermes"
    prompt = chat.render(TOOL_TURNS, add_generation_prompt=True, tools=(WEATHER,))
    assert prompt == (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to "
        "assist with the user query.\n\nYou are provided with function signatures within "
        "<tools></tools> XML tags:\n<tools>\n"
        '{"type": "function", "function": {"name": "get_weather", "description": '
        '"Weather <now> & \'soon\' in a city", "parameters": {"type": "object", '
        '"properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>\n\n'
        "For each function call, return a json object with function name and arguments "
        "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": '
        '{"city": "Paris"}}\n</tool_call>\n<|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nSunny\n</tool_response>\n<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_llama3_template_gets_strftime_now_and_tojson_with_indent() -> None:
    chat = checked(template("llama3"))
    assert chat.tool_format is not None
    assert chat.tool_format.name == "llama3"
    prompt = chat.render(TOOL_TURNS, add_generation_prompt=True, tools=(WEATHER,))
    today = datetime.datetime.now().strftime("%d %b %Y")
    assert f"Today Date: {today}\n" in prompt
    assert '{\n    "type": "function",\n    "function": {\n        "name": "get_weather"' in prompt
    assert '{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>' in prompt
    assert "<|start_header_id|>ipython<|end_header_id|>\n\nSunny<|eot_id|>" in prompt
    assert "<|eom_id|>" in chat.stop  # llama 3.1 ends a builtin tool's call with it


def test_a_mistral_template_gets_the_nine_character_call_ids_it_demands() -> None:
    chat = checked(template("mistral"))
    assert chat.tool_format is not None
    assert chat.tool_format.name == "mistral"
    prompt = chat.render(TOOL_TURNS, add_generation_prompt=True, tools=(WEATHER,))
    short = chat.tool_format.call_id("call_abc")
    assert len(short) == 9
    assert short.isalnum()
    assert f'"id": "{short}"}}]</s>' in prompt
    assert f'"call_id": "{short}"}}[/TOOL_RESULTS]' in prompt
    assert prompt.startswith('<s>[AVAILABLE_TOOLS][{"type": "function"')


def test_a_template_without_a_system_role_gets_it_in_the_first_user_message() -> None:
    chat = checked(template("strict"))
    assert not chat.system_role
    assert chat.tool_format is None  # no tools in it: the grammar path
    assert any("System role not supported" in note for note in chat.notes)
    prompt = chat.render(
        [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")],
        add_generation_prompt=True,
    )
    assert prompt == "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"


def test_roles_the_template_refuses_are_a_bad_request_with_its_own_words() -> None:
    chat = checked(template("strict"))
    with pytest.raises(InvalidRequest) as caught:
        chat.render(
            [ChatMessage("assistant", "one"), ChatMessage("user", "two")],
            add_generation_prompt=True,
        )
    assert caught.value.message == (
        "the chat template of model 'test-model' refuses this conversation: "
        "Conversation roles must alternate user/assistant/user/assistant/..."
    )


def test_two_user_messages_in_a_row_are_joined_for_a_template_that_demands_turns() -> None:
    """OpenAI's API accepts them, and a stored conversation has them after a failed turn."""
    chat = checked(template("strict"))
    prompt = chat.render(
        [ChatMessage("user", "one"), ChatMessage("user", "two")], add_generation_prompt=True
    )
    assert prompt == "<s><start_of_turn>user\none\n\ntwo<end_of_turn>\n<start_of_turn>model\n"
    # A template that takes them as they are gets them as they are.
    chatml = checked(template("hermes"))
    both = chatml.render(
        [ChatMessage("user", "one"), ChatMessage("user", "two")], add_generation_prompt=True
    )
    assert both.count("<|im_start|>user") == 2


def test_chatml_and_smollm2s_own_template_have_no_tool_format() -> None:
    smollm2 = gguf_info.read(embedded_model_path()).chat_template
    assert smollm2 is not None
    for source in (CHATML, smollm2):
        chat = checked(source)
        assert chat.system_role
        assert chat.tool_format is None
        assert not chat.notes


def test_generation_blocks_and_loop_controls_render() -> None:
    source = (
        "{% for m in messages %}{% if loop.index > 3 %}{% break %}{% endif %}"
        "{% if m.role == 'assistant' %}{% generation %}[{{ m.content }}]{% endgeneration %}"
        "{% else %}{{ m.role }}: {{ m.content }}\n{% endif %}{% endfor %}"
    )
    chat = checked(source)
    turns = [ChatMessage("user", "a"), ChatMessage("assistant", "b"), ChatMessage("user", "c")]
    assert chat.render([*turns, ChatMessage("user", "d")], add_generation_prompt=True) == (
        "user: a\n[b]user: c\n"
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{% for m in messages %}{{ m.content }}", "TemplateSyntaxError (line 1)"),
        ("{{ messages | shout }}", "No filter named 'shout'"),
        ("{% if messages is cheerful %}x{% endif %}", "No test named 'cheerful'"),
        ("{{ render_turns(messages) }}", "'render_turns' is undefined"),
        ("{{ raise_exception('this template is for training only') }}", "it raised 'this template"),
        ("{% for m in messages %}{{ m.text }}{% endfor %}", "leaves the user's messages out"),
        ("{{ messages[0].content.nope() }}", "UndefinedError"),
    ],
)
def test_a_template_that_cannot_give_a_prompt_is_refused_with_why(source: str, reason: str) -> None:
    with pytest.raises(TemplateUnusable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        checked(source)


def test_a_template_that_breaks_only_with_tools_is_refused() -> None:
    source = (
        "{% if tools %}{{ tools | describe_tools }}{% endif %}"
        "{% for m in messages %}{{ m.content }}{% endfor %}"
    )
    with pytest.raises(TemplateUnusable, match="No filter named 'describe_tools'"):
        checked(source)
    calls_undefined = (
        "{% if tools %}{{ format_tools(tools) }}{% endif %}"
        "{% for m in messages %}<tool_call>{{ m.content }}{% endfor %}"
    )
    with pytest.raises(TemplateUnusable, match=r"with tools: .*'format_tools' is undefined"):
        checked(calls_undefined)


def test_a_template_that_raises_on_tool_traffic_keeps_tools_on_the_grammar_path() -> None:
    source = (
        "{% for m in messages %}{% if m.role == 'tool' %}"
        "{{ raise_exception('no tool role here') }}{% endif %}{{ m.content }}{% endfor %}"
        "{% if tools %}<tool_call>{% endif %}"
    )
    chat = checked(source)
    assert chat.tool_format is None
    assert any("no tool role here" in note for note in chat.notes)
