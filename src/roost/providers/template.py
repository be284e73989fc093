"""Chat templates: the GGUF's own Jinja template, rendered the way Hugging Face does.

A template is tried when the model loads (`check`): one that does not compile, calls a
function no template host provides, raises, or leaves the user's words out of the prompt
makes the load fail (TemplateUnusable) rather than give the model a wrong prompt. The
same probe learns what the template can do: a system role (else the system message is
put at the head of the first user message, as llama.cpp does), and tools in a format
roost reads (tool_formats).

Messages reach the template in the shape of Hugging Face's `apply_chat_template`: an
assistant's calls as `tool_calls` (`function.arguments` an object), results as `tool`
messages with `tool_call_id` and `name`, and `tools` as OpenAI-style function entries.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from roost.core.errors import InvalidRequest
from roost.providers import chat_jinja, tool_formats
from roost.providers.base import ChatMessage, ToolCallChunk, ToolSpec
from roost.providers.tool_formats import ToolFormat

# Used when a GGUF carries no template: ChatML, which most small instruct models speak.
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Turn terminators that some templates emit as text rather than as the EOS token.
_END_MARKERS = (
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
)


class TemplateUnusable(Exception):
    """Why a template cannot give this model its prompts (the load fails with it)."""


# The probe: words that must come through into the prompt.
_HELLO = ChatMessage("user", "Hello, who are you?")
_REPLY = ChatMessage("assistant", "I am an assistant.")
_ASK = ChatMessage("user", "What is the weather in Paris?")
_SYSTEM = ChatMessage("system", "You answer in one sentence.")
_PROBE_TOOL = ToolSpec(
    "get_weather",
    "The current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
_PROBE_CALLS = (
    _ASK,
    ChatMessage("assistant", "", (ToolCallChunk("call_probe1", "get_weather", {"city": "Paris"}),)),
    ChatMessage("tool", "Sunny, 21 C", tool_call_id="call_probe1", name="get_weather"),
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, chat_jinja.TemplateRaised):
        return f"it raised '{exc.message}'"
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if line else ""
    return f"{type(exc).__name__}{where}: {exc}"


@dataclass
class ChatTemplate:
    source: str
    bos_token: str
    eos_token: str
    model: str = "this model"
    system_role: bool = True  # set by check()
    tool_format: ToolFormat | None = None  # set by check(): None means the grammar path
    notes: list[str] = field(default_factory=list)  # what check() found, for the log

    def __post_init__(self) -> None:
        try:
            self._compiled = chat_jinja.environment().from_string(self.source)
        except TemplateError as exc:  # a syntax error, or a filter/test no host has
            raise TemplateUnusable(_describe(exc)) from exc

    @classmethod
    def from_llama(cls, llm: Any, model: str, source: str | None = None) -> ChatTemplate:
        """`source`: the model's [models.NAME] chat_template, else the GGUF's own."""
        metadata: dict[str, str] = getattr(llm, "metadata", {}) or {}
        source = source or metadata.get("tokenizer.chat_template") or CHATML

        def token_text(token_id: int) -> str:
            if token_id < 0:
                return ""
            return bytes(llm.detokenize([token_id], special=True)).decode("utf-8", "replace")

        return cls(source, token_text(llm.token_bos()), token_text(llm.token_eos()), model)

    @property
    def stop(self) -> list[str]:
        markers = [m for m in _END_MARKERS if m in self.source]
        if self.eos_token and self.eos_token not in markers:
            markers.append(self.eos_token)
        return markers

    def end_tokens(self, llm: Any) -> set[int]:
        """Token ids that end a turn: EOS plus any single-token end marker."""
        ids = {int(llm.token_eos())}
        for marker in self.stop:
            ids |= single_tokens(llm, [marker])
        return ids

    # -- the load-time probe -------------------------------------------------------------

    def check(self) -> None:
        """Render a short conversation; TemplateUnusable if that cannot give a prompt."""
        basic = [_HELLO, _REPLY, _ASK]
        prompt = self._try(basic, (), "a user/assistant/user conversation")
        if _HELLO.content not in prompt or _ASK.content not in prompt:
            raise TemplateUnusable("it leaves the user's messages out of the prompt")
        try:
            with_system = self._render([_SYSTEM, *basic], (), True)
        except chat_jinja.TemplateRaised as exc:
            with_system = ""
            self.notes.append(f"no system role ({exc.message}): put in the first user message")
        except Exception as exc:
            raise TemplateUnusable(f"with a system message: {_describe(exc)}") from exc
        self.system_role = _SYSTEM.content in with_system
        if not self.system_role and not self.notes:
            self.notes.append("no system role: put in the first user message")
        if re.search(r"\btools\b", self.source):
            self._check_tools()

    def _check_tools(self) -> None:
        fmt = self.tool_format = tool_formats.detect(self.source)  # its ids, for the probe
        try:
            prompt = self._render(list(_PROBE_CALLS), (_PROBE_TOOL,), True)
        except chat_jinja.TemplateRaised as exc:
            self.tool_format = None
            self.notes.append(f"tools by grammar: the template raised '{exc.message}' on a call")
            return
        except Exception as exc:
            raise TemplateUnusable(f"with tools: {_describe(exc)}") from exc
        if fmt is None:
            self.notes.append("tools by grammar: roost does not read this template's calls")
        elif _PROBE_TOOL.name not in prompt:
            self.tool_format = None
            self.notes.append("tools by grammar: the template leaves the tools out")
        else:
            self.notes.append(f"tools through the template ({fmt.name} calls)")

    def _try(self, messages: list[ChatMessage], tools: tuple[ToolSpec, ...], what: str) -> str:
        try:
            return self._render(messages, tools, True) + self._render(messages, tools, False)
        except Exception as exc:
            raise TemplateUnusable(f"on {what}: {_describe(exc)}") from exc

    # -- rendering -----------------------------------------------------------------------

    def render(
        self,
        messages: list[ChatMessage],
        *,
        add_generation_prompt: bool,
        tools: tuple[ToolSpec, ...] = (),
    ) -> str:
        """The prompt; InvalidRequest (with the template's reason) when the template
        refuses this conversation, e.g. roles that do not alternate."""
        try:
            return self._render(messages, tools, add_generation_prompt)
        except chat_jinja.TemplateRaised as exc:
            # OpenAI's API takes two user messages in a row, and a stored conversation has
            # them after a failed turn; templates that demand alternation get them joined.
            merged = merge_runs(messages)
            if len(merged) < len(messages):
                with contextlib.suppress(Exception):  # else the first reason is reported
                    return self._render(merged, tools, add_generation_prompt)
            raise InvalidRequest(
                f"the chat template of model '{self.model}' refuses this conversation: "
                f"{exc.message}"
            ) from exc
        except Exception as exc:  # the probe rendered; it is this conversation's shape
            raise InvalidRequest(
                f"the chat template of model '{self.model}' cannot render this "
                f"conversation: {_describe(exc)}"
            ) from exc

    def _render(
        self, messages: list[ChatMessage], tools: tuple[ToolSpec, ...], generation: bool
    ) -> str:
        context: dict[str, Any] = {
            "messages": [self._message(m) for m in self._roles(messages)],
            "add_generation_prompt": generation,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        }
        if tools:
            context["tools"] = [_tool(t) for t in tools]
        return str(self._compiled.render(context))

    def _roles(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """Without a system role, the system message opens the first user message."""
        if self.system_role or not messages or messages[0].role != "system":
            return messages
        system, rest = messages[0], list(messages[1:])
        if rest and rest[0].role == "user":
            rest[0] = ChatMessage("user", f"{system.content}\n\n{rest[0].content}")
            return rest
        return [ChatMessage("user", system.content), *rest]

    def _message(self, message: ChatMessage) -> dict[str, Any]:
        out: dict[str, Any] = {"role": message.role, "content": message.content}
        call_id = self.tool_format.call_id if self.tool_format else (lambda i: i)
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call_id(c.id),
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in message.tool_calls
            ]
        if message.role == "tool":
            out["tool_call_id"] = call_id(message.tool_call_id or "")
            out["name"] = message.name or ""
        return out


def merge_runs(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Consecutive plain user (or assistant) messages as one, their texts a blank line apart."""
    merged: list[ChatMessage] = []
    for message in messages:
        last = merged[-1] if merged else None
        if (
            last is not None
            and message.role == last.role
            and message.role in ("user", "assistant")
            and not (message.tool_calls or last.tool_calls)
        ):
            merged[-1] = ChatMessage(message.role, f"{last.content}\n\n{message.content}")
        else:
            merged.append(message)
    return merged


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters or {"type": "object", "properties": {}},
        },
    }


def single_tokens(llm: Any, texts: list[str]) -> set[int]:
    """The ids of those texts that are one token in the model's vocabulary."""
    ids: set[int] = set()
    for text in texts:
        encoded = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(encoded) == 1:
            ids.add(int(encoded[0]))
    return ids
