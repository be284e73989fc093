"""MemGPT 0.3's response shapes, for /openapi.json (render.py builds them as dicts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class MemGPTError(BaseModel):
    """FastAPI's own error body, which MemGPT's server and clients use."""

    detail: str


class Message(BaseModel):
    message: str


class CoreMemory(BaseModel):
    human: str
    persona: str


class AgentMemoryCounts(BaseModel):
    core_memory: CoreMemory
    recall_memory: int
    archival_memory: int


class AgentSummary(BaseModel):
    id: str
    name: str
    user_id: str
    preset: str
    human: str | None
    persona: str | None
    created_at: str
    tools: list[str]
    memory: AgentMemoryCounts
    last_run: str | None
    sources: list[Any]


class AgentList(BaseModel):
    num_agents: int
    agents: list[AgentSummary]


class MemoryBlock(BaseModel):
    description: None
    limit: int
    value: str


class Blocks(BaseModel):
    persona: MemoryBlock
    human: MemoryBlock


class State(BaseModel):
    persona: str
    human: str
    system: str
    preset: str
    memory: Blocks


class LLMConfig(BaseModel):
    model: str
    model_endpoint_type: str | None
    model_endpoint: str | None
    model_wrapper: None
    context_window: int | None


class EmbeddingConfig(BaseModel):
    embedding_endpoint_type: str
    embedding_endpoint: str | None
    embedding_model: str
    embedding_dim: int
    embedding_chunk_size: int


class AgentState(BaseModel):
    id: str
    name: str
    description: None
    user_id: str
    preset: str
    created_at: int
    tools: list[str]
    system: str
    llm_config: LLMConfig
    embedding_config: EmbeddingConfig
    state: State
    metadata: dict[str, Any]


class Preset(BaseModel):
    name: str
    id: str
    user_id: str | None
    description: str | None
    created_at: str
    system: str
    system_name: str | None
    persona: str
    persona_name: str | None
    human: str
    human_name: str | None
    functions_schema: list[dict[str, Any]]


class CreateAgentResponse(BaseModel):
    agent_state: AgentState
    preset: Preset


class GetAgentResponse(BaseModel):
    agent_state: AgentState
    sources: list[Any]
    last_run_at: int | None


class MemoryUpdate(BaseModel):
    old_core_memory: CoreMemory
    new_core_memory: CoreMemory


class PassageOut(BaseModel):
    id: str
    contents: str


class Archival(BaseModel):
    archival_memory: list[PassageOut]


class InsertedIds(BaseModel):
    ids: list[str]


class MessageJson(BaseModel):
    """MemGPT's Message.to_json(), plus `in_context`."""

    id: str
    user_id: str
    agent_id: str
    text: str
    model: str | None
    created_at: str
    role: str
    name: str | None
    embedding: None
    embedding_dim: None
    embedding_model: None
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None
    in_context: bool


class Messages(BaseModel):
    messages: list[MessageJson]


class LegacyItem(BaseModel):
    """One of internal_monologue, function_call, assistant_message, function_return."""

    id: str
    date: str
    internal_monologue: str | None = None
    function_call: str | None = None
    assistant_message: str | None = None
    function_return: str | None = None
    status: Literal["success", "error"] | None = None


class StepUsage(BaseModel):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    step_count: int


class SendMessageResponse(BaseModel):
    messages: list[LegacyItem]
    usage: StepUsage


class TextItem(BaseModel):
    """HumanModel / PersonaModel."""

    text: str
    name: str
    id: str
    user_id: str | None


class Humans(BaseModel):
    humans: list[TextItem]


class Personas(BaseModel):
    personas: list[TextItem]


class Presets(BaseModel):
    presets: list[Preset]


class PresetCreated(BaseModel):
    preset: Preset


class Tool(BaseModel):
    name: str
    id: str
    tags: list[str]
    source_type: str | None
    source_code: str | None
    module: None
    json_schema: dict[str, Any]
    user_id: str | None


class Tools(BaseModel):
    tools: list[Tool]


class UserOut(BaseModel):
    user_id: str
    name: str
    created_at: str


class UserList(BaseModel):
    cursor: str | None
    user_list: list[UserOut]


class UserCreated(BaseModel):
    user_id: str
    api_key: str


class UserDeleted(BaseModel):
    message: str
    user_id_deleted: str


class KeyCreated(BaseModel):
    api_key: str


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None


class KeyList(BaseModel):
    api_key_list: list[str]
    keys: list[KeyOut]


class KeyDeleted(BaseModel):
    message: str
    api_key_deleted: str


class AuthOut(BaseModel):
    uuid: str
    is_admin: bool


STREAM = (
    '`"stream": true`: `data:` lines of the legacy items, then the stream closes; '
    '`"stream_steps": true`: `data: [DONE_GEN]`, the step\'s events, `data: [DONE_STEP]` per '
    'step, then `data: [DONE]`. A failure is a last `data: {"error": "..."}`.'
)


class StepCall(BaseModel):
    id: str
    name: str
    arguments: str


class StepItem(BaseModel):
    """An event of `stream_steps`: calls as objects."""

    id: str
    date: str
    internal_monologue: str | None = None
    function_call: StepCall | None = None
    function_return: str | None = None
    status: Literal["success", "error"] | None = None


class StreamError(BaseModel):
    error: str


STREAM_PAYLOADS = (LegacyItem, StepItem, StreamError, "[DONE_GEN]", "[DONE_STEP]", "[DONE]")
