"""Request bodies of the OpenAI dialect, with the bounds roost enforces.

Unknown top-level fields are ignored, as vLLM and Ollama do: SDKs and frameworks send
fields that newer OpenAI versions added. Known fields are checked strictly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roost.api.keepalive import KeepAlive

Name = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
ModelName = Annotated[str, Field(min_length=1, max_length=256)]
MAX_STOPS = 4


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Body):
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)


class ImagePart(_Body):
    """Accepted by the schema so the error can say why it is refused (text-only models)."""

    type: Literal["image_url", "input_audio", "file"]


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
Content = str | Annotated[list[ContentPart], Field(max_length=1000)]


class FunctionCall(_Body):
    name: Name
    arguments: str = Field(max_length=1_000_000)


class ToolCallIn(_Body):
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Body):
    role: Literal["system", "developer"]
    content: Content
    name: str | None = Field(None, max_length=256)


class UserMessage(_Body):
    role: Literal["user"]
    content: Content
    name: str | None = Field(None, max_length=256)


class AssistantMessage(_Body):
    role: Literal["assistant"]
    content: Content | None = None
    name: str | None = Field(None, max_length=256)
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=128)


class ToolMessage(_Body):
    role: Literal["tool"]
    content: Content
    tool_call_id: str = Field(min_length=1, max_length=256)


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDef(_Body):
    name: Name
    description: str = Field("", max_length=10_000)
    parameters: dict[str, Any] = Field(default_factory=dict)


class ToolDef(_Body):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Body):
    name: Name


class NamedToolChoice(_Body):
    type: Literal["function"]
    function: NamedFunction


class JsonSchemaFormat(_Body):
    name: Name = "response"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None
    description: str | None = Field(None, max_length=10_000)


class ResponseFormatIn(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Body):
    include_usage: bool = False


class ChatFields(_Body):
    """The request fields OpenAI's chat completions and Second-Me's kernel2 chat share."""

    model: ModelName | None = None
    # The upper bound here only stops absurd bodies early; [limits] max_messages is the
    # configured bound, checked by the service.
    messages: list[Message] = Field(max_length=100_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    stop: (
        Annotated[str, Field(max_length=256)]
        | Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=MAX_STOPS)]
        | None
    ) = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    n: int | None = Field(None, ge=1, le=128)
    logprobs: bool | None = None
    tools: list[ToolDef] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormatIn | None = None
    user: str | None = Field(None, max_length=256)
    keep_alive: KeepAlive = None  # a roost (and Ollama) extension


class ChatCompletionBody(ChatFields):
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = Field(None, max_length=16)


class EmbeddingBody(_Body):
    model: ModelName | None = None
    input: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=2048)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=65536)
    user: str | None = Field(None, max_length=256)


# Responses: documentation only (the handlers build plain dicts; see roost.api.openapi).


class ErrorObject(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class ErrorResponse(BaseModel):
    """OpenAI's error body; the SDKs pick the exception from the status."""

    error: ErrorObject


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class FunctionCallOut(BaseModel):
    name: str
    arguments: str = Field(description="The arguments as a JSON text")


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionCallOut


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str | None
    refusal: None
    tool_calls: list[ToolCallOut] | None = None
    reasoning_content: str | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessageOut
    logprobs: None
    finish_reason: Literal["stop", "length", "tool_calls"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[Choice]
    usage: CompletionUsage
    metadata: dict[str, str] | None = Field(None, description="session_id, when one was named")


class ModelObject(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    state: str | None = Field(
        None,
        description="roost: llama.cpp models only (idle, loading, ready, restarting, unavailable)",
    )
    restarts: int | None = Field(None, description="roost: times its process was restarted")
    error: str | None = Field(None, description="roost: why it last died or is unavailable")


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelObject]


class EmbeddingOut(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of float32 LE")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"]
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage


class TranscriptionJson(BaseModel):
    text: str


class Segment(BaseModel):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class Word(BaseModel):
    word: str
    start: float
    end: float


class TranscriptionVerbose(BaseModel):
    task: Literal["transcribe"]
    language: str
    duration: float
    text: str
    segments: list[Segment]
    words: list[Word] | None = None


class TranscriptionForm(BaseModel):
    """The multipart form of POST /v1/audio/transcriptions (read by hand, see audio.py)."""

    file: bytes
    model: str | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=20)
    prompt: str | None = Field(None, max_length=4000)
    response_format: Literal["json", "text", "srt", "verbose_json", "vtt"] = "json"
    temperature: float | None = None
    timestamp_granularities: list[Literal["segment", "word"]] | None = Field(
        None, alias="timestamp_granularities[]"
    )


class ToolCallDelta(ToolCallOut):
    index: int


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    logprobs: None
    finish_reason: Literal["stop", "length", "tool_calls"] | None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streamed completion (the last one with usage has no choices)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
