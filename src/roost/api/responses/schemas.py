"""The request body of POST /v1/responses, with the bounds roost enforces.

Unknown top-level fields are ignored, as on /v1/chat/completions (SDKs add fields as
OpenAI does). Items and tools of kinds roost cannot serve are parsed far enough to be
refused by name (convert.py) rather than with a schema error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from roost.api.keepalive import KeepAlive
from roost.api.openai.schemas import ModelName, Name

Text = Annotated[str, Field(max_length=1_000_000)]
CallId = Annotated[str, Field(min_length=1, max_length=256)]
MAX_ITEMS = 100_000  # absurd bodies stop here; [limits] max_messages is the real bound


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Body):
    type: Literal["input_text", "output_text"]
    text: Text


class OtherPart(_Body):
    """input_image, input_file, input_audio, refusal: refused (roost's models read text)."""

    type: Annotated[str, Field(max_length=64)]


def _part_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "text-part" if kind in ("input_text", "output_text") else "other-part"


Part = Annotated[
    Annotated[TextPart, Tag("text-part")] | Annotated[OtherPart, Tag("other-part")],
    Discriminator(_part_kind),
]
Content = Text | Annotated[list[Part], Field(max_length=1000)]


class MessageItem(_Body):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: Content


class FunctionCallItem(_Body):
    type: Literal["function_call"]
    call_id: CallId
    name: Name
    arguments: Text


class FunctionCallOutputItem(_Body):
    type: Literal["function_call_output"]
    call_id: CallId
    output: Content


class OtherItem(_Body):
    """reasoning (skipped: roost keeps no hidden reasoning), item_reference and the hosted
    tools' items (refused)."""

    type: Annotated[str, Field(max_length=64)]


def _item_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind is None or kind == "message":
        return "message-item"
    if kind in ("function_call", "function_call_output"):
        return str(kind).replace("_", "-")
    return "other-item"


Item = Annotated[
    Annotated[MessageItem, Tag("message-item")]
    | Annotated[FunctionCallItem, Tag("function-call")]
    | Annotated[FunctionCallOutputItem, Tag("function-call-output")]
    | Annotated[OtherItem, Tag("other-item")],
    Discriminator(_item_kind),
]


class FunctionTool(_Body):
    type: Literal["function"]
    name: Name
    description: str | None = Field(None, max_length=10_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class OtherTool(_Body):
    """Hosted tools (web_search, file_search, ...): refused by name."""

    type: Annotated[str, Field(max_length=64)]


def _tool_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "function-tool" if kind == "function" else "other-tool"


Tool = Annotated[
    Annotated[FunctionTool, Tag("function-tool")] | Annotated[OtherTool, Tag("other-tool")],
    Discriminator(_tool_kind),
]


class NamedFunction(_Body):
    type: Literal["function"]
    name: Name


class TextFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    name: Name | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None
    description: str | None = Field(None, max_length=10_000)


class TextConfig(_Body):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class Reasoning(_Body):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


Metadata = dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]]


class ResponseBody(_Body):
    model: ModelName | None = None
    # The list first: a bad item is then reported as such, not as "not a string".
    input: (
        Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]
        | Annotated[str, Field(min_length=1, max_length=1_000_000)]
    )
    instructions: str | None = Field(None, max_length=1_000_000)
    previous_response_id: str | None = Field(None, min_length=1, max_length=64)
    store: bool = True
    stream: bool = False
    tools: list[Tool] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedFunction | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(None, ge=1, le=1_000_000)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    metadata: Metadata | None = Field(None, max_length=16)
    reasoning: Reasoning | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = Field(None, max_length=256)
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None  # refused: previous_response_id instead
    include: list[Annotated[str, Field(max_length=128)]] | None = Field(None, max_length=32)
    keep_alive: KeepAlive = None  # a roost (and Ollama) extension

    @field_validator("input", mode="before")
    @classmethod
    def _input_kind(cls, value: Any) -> Any:
        if not isinstance(value, str | list):
            raise ValueError("must be a string or a list of input items")
        if not value:
            raise ValueError("must not be empty")
        return value
