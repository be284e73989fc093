"""Request bodies of Anthropic's Messages API, with the bounds roost enforces.

Unknown fields are ignored (`metadata`, `service_tier`, `cache_control` on blocks, fields
newer SDKs add), as the other dialects ignore theirs; known fields are checked strictly.
Block types roost cannot use (images, documents, server tools) are accepted by the schema
so that convert.py can say why they are refused, rather than a union error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
ModelName = Annotated[str, Field(min_length=1, max_length=256)]
Id = Annotated[str, Field(min_length=1, max_length=256)]
Text = Annotated[str, Field(max_length=1_000_000)]
MAX_BLOCKS = 1000
MAX_STOPS = 16


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextBlock(_Body):
    type: Literal["text"]
    text: Text


class OtherBlock(_Body):
    """Blocks roost's text-only models cannot take: refused with a clear 400."""

    type: Literal[
        "image",
        "document",
        "search_result",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "container_upload",
        "mcp_tool_use",
        "mcp_tool_result",
    ]


class ThinkingBlock(_Body):
    """Reasoning a client echoes back: dropped (the model does not see past reasoning)."""

    type: Literal["thinking", "redacted_thinking"]
    thinking: Text = ""


class ToolUseBlock(_Body):
    type: Literal["tool_use"]
    id: Id
    name: Name
    input: dict[str, Any] = Field(default_factory=dict)


ToolResultPart = Annotated[TextBlock | OtherBlock, Field(discriminator="type")]


class ToolResultBlock(_Body):
    type: Literal["tool_result"]
    tool_use_id: Id
    content: Text | Annotated[list[ToolResultPart], Field(max_length=MAX_BLOCKS)] | None = None
    is_error: bool = False


Block = Annotated[
    TextBlock | OtherBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock,
    Field(discriminator="type"),
]
Content = Text | Annotated[list[Block], Field(max_length=MAX_BLOCKS)]


class MessageIn(_Body):
    role: Literal["user", "assistant"]
    content: Content


class ToolDef(_Body):
    name: Name
    description: str = Field("", max_length=10_000)
    input_schema: dict[str, Any]
    # Absent or "custom" for a client tool; Anthropic's server tools carry a dated type
    # ("web_search_20250305"), which convert.py refuses.
    type: str | None = Field(None, max_length=64)


class AutoChoice(_Body):
    type: Literal["auto"]
    disable_parallel_tool_use: bool = False


class AnyChoice(_Body):
    type: Literal["any"]
    disable_parallel_tool_use: bool = False


class NamedChoice(_Body):
    type: Literal["tool"]
    name: Name
    disable_parallel_tool_use: bool = False


class NoneChoice(_Body):
    type: Literal["none"]


ToolChoiceIn = Annotated[
    AutoChoice | AnyChoice | NamedChoice | NoneChoice, Field(discriminator="type")
]


class ThinkingEnabled(_Body):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1, le=1_000_000)


class ThinkingOther(_Body):
    type: Literal["disabled", "adaptive", "between_tools"]


class JsonFormat(_Body):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Body):
    """Structured output (`format`); `effort` is ignored: roost's models have no such knob."""

    format: JsonFormat | None = None


Thinking = Annotated[ThinkingEnabled | ThinkingOther, Field(discriminator="type")]


class PromptFields(_Body):
    """What count_tokens and messages share: the prompt."""

    model: ModelName
    # The upper bound only stops absurd bodies early; [limits] max_messages is the
    # configured bound, checked by the service.
    messages: list[MessageIn] = Field(max_length=100_000)
    system: Text | Annotated[list[TextBlock], Field(max_length=MAX_BLOCKS)] | None = None
    tools: list[ToolDef] | None = Field(None, max_length=128)
    tool_choice: ToolChoiceIn | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None


class MessagesBody(PromptFields):
    max_tokens: int = Field(ge=1, le=1_000_000)
    stop_sequences: (
        Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=MAX_STOPS)] | None
    ) = None
    temperature: float | None = Field(None, ge=0.0, le=1.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0, le=100_000)
    stream: bool = False


class CountTokensBody(PromptFields):
    pass
