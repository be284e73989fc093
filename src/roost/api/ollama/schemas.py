"""Request bodies of the Ollama dialect (api.ChatRequest, GenerateRequest, EmbedRequest ...),
with the bounds roost enforces, and the response shapes for /openapi.json.

Unknown fields, and unknown keys in `options`, are ignored as Ollama ignores them (it only
logs "invalid option provided"); known ones are checked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from roost.api.keepalive import KeepAlive

ModelName = Annotated[str, Field(min_length=1, max_length=300)]
Text = Annotated[str, Field(max_length=1_000_000)]
Name = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")]
Images = Annotated[list[Annotated[str, Field(max_length=20_000_000)]], Field(max_length=16)]
MAX_STOPS = 16


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Options(_Body):
    """The sampling keys roost maps (GenerationOptions); the runner keys (num_ctx,
    num_gpu, num_thread ...) are accepted and ignored: a model's window and threads are
    its [models.NAME] settings."""

    temperature: float | None = Field(None, ge=0.0, le=5.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0, le=1_000_000)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    num_predict: int | None = Field(None, ge=-2, le=1_000_000)
    stop: list[Annotated[str, Field(max_length=256)]] | None = Field(None, max_length=MAX_STOPS)
    repeat_penalty: float | None = Field(None, ge=0.0, le=10.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    num_ctx: int | None = Field(None, ge=0, le=10_000_000)


class FunctionCall(_Body):
    index: int | None = Field(None, ge=0, le=1024)
    name: Name
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallIn(_Body):
    id: str | None = Field(None, max_length=256)
    function: FunctionCall


class Message(_Body):
    role: Literal["system", "user", "assistant", "tool"]
    content: Text = ""
    thinking: Text | None = None
    images: Images | None = None
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=128)
    tool_name: str | None = Field(None, max_length=256)
    tool_call_id: str | None = Field(None, max_length=256)


class FunctionDef(_Body):
    name: Name
    description: str = Field("", max_length=10_000)
    parameters: dict[str, Any] = Field(default_factory=dict)


class ToolDef(_Body):
    type: Literal["function"] = "function"
    function: FunctionDef


Format = Literal["", "json"] | dict[str, Any] | None
Think = StrictBool | Literal["low", "medium", "high", "max"] | None


class _Turn(_Body):
    model: ModelName
    stream: StrictBool = True
    format: Format = None
    options: Options | None = None
    keep_alive: KeepAlive = None
    think: Think = None
    truncate: StrictBool | None = None
    logprobs: StrictBool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)


class ChatBody(_Turn):
    # [limits] max_messages is the configured bound, checked by the service.
    messages: list[Message] = Field(default_factory=list, max_length=100_000)
    tools: list[ToolDef] | None = Field(None, max_length=128)


class GenerateBody(_Turn):
    prompt: Text = ""
    suffix: Text | None = None
    system: Text | None = None
    template: Text | None = None
    context: list[int] | None = Field(None, max_length=1_000_000)
    raw: StrictBool | None = None
    images: Images | None = None


class ShowBody(_Body):
    model: ModelName | None = None
    name: ModelName | None = Field(None, description="The same, under Ollama's old name")
    verbose: StrictBool = False


class EmbedBody(_Body):
    model: ModelName
    input: Text | Annotated[list[Text], Field(max_length=2048)]
    truncate: StrictBool | None = None
    dimensions: int | None = Field(None, ge=1, le=65536)
    options: Options | None = None
    keep_alive: KeepAlive = None


class EmbeddingsBody(_Body):
    model: ModelName
    prompt: Text
    options: Options | None = None
    keep_alive: KeepAlive = None


# Responses: documentation only (the handlers build plain dicts).


class OllamaError(BaseModel):
    """Ollama's error body, with the real status; in a stream, a line of its own."""

    error: str


MODEL_FAILED: dict[int | str, dict[str, Any]] = {
    502: {"model": OllamaError, "description": "The model failed"}
}


class Details(BaseModel):
    parent_model: str
    format: str
    family: str
    families: list[str] | None
    parameter_size: str
    quantization_level: str


class ListedModel(BaseModel):
    name: str
    model: str
    modified_at: str
    size: int
    digest: str
    details: Details


class TagList(BaseModel):
    models: list[ListedModel]


class RunningModel(BaseModel):
    name: str
    model: str
    size: int
    digest: str
    details: Details
    expires_at: str | None
    size_vram: int
    context_length: int


class RunningList(BaseModel):
    models: list[RunningModel]


class ShowResponse(BaseModel):
    modelfile: str
    parameters: str
    template: str
    details: Details
    model_info: dict[str, Any] | None
    capabilities: list[str]
    modified_at: str
    license: str | None = None


class Version(BaseModel):
    version: str


class ToolCallOut(BaseModel):
    function: dict[str, Any] = Field(description="name, arguments (a JSON object), index")


class MessageOut(BaseModel):
    role: Literal["assistant"]
    content: str
    thinking: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class _Metrics(BaseModel):
    total_duration: int | None = Field(None, description="nanoseconds")
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class ChatResponse(_Metrics):
    model: str
    created_at: str
    message: MessageOut
    done: bool
    done_reason: str | None = None


class GenerateResponse(_Metrics):
    model: str
    created_at: str
    response: str
    thinking: str | None = None
    done: bool
    done_reason: str | None = None


class EmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class EmbeddingResponse(BaseModel):
    embedding: list[float]
