"""pymemgpt 0.3.25's REST client, call for call, against roost.

pymemgpt itself cannot be installed beside roost (it pins numpy<2, httpx<0.26 and pulls in
chromadb, lancedb and llama-index): tests/e2e/test_memgpt_pymemgpt.py runs the real client
from a venv of its own against a real server. This in-process test sends exactly the requests its
`RESTClient` and `Admin` send (paths, query parameters, JSON bodies and headers, read from
memgpt/client/client.py and admin.py) and validates each answer with copies of the
pydantic models the client parses them into (memgpt/models/pydantic_models.py and
memgpt/server/rest_api/*): a field roost named differently would fail here as it would
there.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from roost.config import Settings
from tests.api.memgpt_helpers import say
from tests.conftest import ADMIN_PASSWORD, Env, running

# --- the client's response models (field names and types as in pymemgpt 0.3.25) -------


class LLMConfigModel(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str | None = "gpt-4"
    model_endpoint_type: str | None = "openai"
    model_endpoint: str | None = "https://api.openai.com/v1"
    model_wrapper: str | None = None
    context_window: int | None = None


class EmbeddingConfigModel(BaseModel):
    embedding_endpoint_type: str | None = "openai"
    embedding_endpoint: str | None = "https://api.openai.com/v1"
    embedding_model: str | None = "text-embedding-ada-002"
    embedding_dim: int | None = 1536
    embedding_chunk_size: int | None = 300


class AgentStateModel(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None = None
    user_id: uuid.UUID
    created_at: int
    tools: list[str]
    system: str
    llm_config: LLMConfigModel
    embedding_config: EmbeddingConfigModel
    state: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class PresetModel(BaseModel):
    name: str
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    user_id: uuid.UUID | None = None
    description: str | None = None
    created_at: datetime
    system: str
    system_name: str | None = None
    persona: str
    persona_name: str | None = None
    human: str
    human_name: str | None = None
    functions_schema: list[dict[str, Any]]


class CreateAgentResponse(BaseModel):
    agent_state: AgentStateModel
    preset: PresetModel


class GetAgentResponse(BaseModel):
    agent_state: AgentStateModel
    sources: list[str]
    last_run_at: int | None = None


class ListAgentsResponse(BaseModel):
    num_agents: int
    agents: list[dict[str, Any]]


class CoreMemory(BaseModel):
    human: str | None = None
    persona: str | None = None


class GetAgentMemoryResponse(BaseModel):
    core_memory: CoreMemory
    recall_memory: int
    archival_memory: int


class UpdateAgentMemoryResponse(BaseModel):
    old_core_memory: CoreMemory
    new_core_memory: CoreMemory


class ArchivalMemoryObject(BaseModel):
    id: uuid.UUID
    contents: str


class GetAgentArchivalMemoryResponse(BaseModel):
    archival_memory: list[ArchivalMemoryObject]


class InsertAgentArchivalMemoryResponse(BaseModel):
    ids: list[str]


class GetAgentMessagesResponse(BaseModel):
    messages: list[Any]


class MemGPTUsageStatistics(BaseModel):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    step_count: int


class UserMessageResponse(BaseModel):
    messages: list[dict[str, Any]]
    usage: MemGPTUsageStatistics


class ToolModel(BaseModel):
    name: str
    id: uuid.UUID
    tags: list[str]
    source_type: str | None = None
    source_code: str | None
    module: str | None = None
    json_schema: dict[str, Any]
    user_id: uuid.UUID | None = None


class ListToolsResponse(BaseModel):
    tools: list[ToolModel]


class HumanModel(BaseModel):
    text: str
    name: str
    id: uuid.UUID
    user_id: uuid.UUID | None


class ListHumansResponse(BaseModel):
    humans: list[HumanModel]


class ListPresetsResponse(BaseModel):
    presets: list[PresetModel]


class CreateUserResponse(BaseModel):
    user_id: uuid.UUID
    api_key: str


class CreateAPIKeyResponse(BaseModel):
    api_key: str


class GetAPIKeysResponse(BaseModel):
    api_key_list: list[str]


class GetAllUsersResponse(BaseModel):
    cursor: uuid.UUID | None = None
    user_list: list[dict[str, Any]]


class DeleteUserResponse(BaseModel):
    message: str
    user_id_deleted: uuid.UUID


# --- what create_agent posts -------------------------------------------------------------

BASE_TOOLS = [
    "send_message",
    "pause_heartbeats",
    "conversation_search",
    "conversation_search_date",
    "archival_memory_insert",
    "archival_memory_search",
]
APPEND_SOURCE = """    def core_memory_append(self, name: str, content: str) -> Optional[str]:
        self.memory[name].value += "\\n" + content
        return None
"""
APPEND_SCHEMA = {
    "name": "core_memory_append",
    "description": "Append to the contents of core memory.",
    "parameters": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Section of the memory to be edited."},
            "content": {"type": "string", "description": "Content to write to the memory."},
            "request_heartbeat": {"type": "boolean", "description": "Request a heartbeat."},
        },
        "required": ["name", "content", "request_heartbeat"],
    },
}


@pytest.fixture
async def env(settings: Settings) -> Any:
    settings.memory.watch = False
    async with running(settings) as value:
        yield value


async def test_the_rest_client_calls(env: Env) -> None:
    # Admin(base_url, token): headers with content-type.
    admin_headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "authorization": f"Bearer {ADMIN_PASSWORD}",
    }
    http = env.client
    http.headers.pop("X-API-Key")
    user = CreateUserResponse(
        **(await http.post("/admin/users", headers=admin_headers, json={"user_id": None})).json()
    )
    key = CreateAPIKeyResponse(
        **(
            await http.post(
                "/admin/users/keys",
                headers=admin_headers,
                json={"user_id": str(user.user_id), "key_name": "client"},
            )
        ).json()
    )
    keys = GetAPIKeysResponse(
        **(
            await http.get(
                "/admin/users/keys", params={"user_id": str(user.user_id)}, headers=admin_headers
            )
        ).json()
    )
    assert len(keys.api_key_list) == 2
    GetAllUsersResponse(
        **(await http.get("/admin/users", params={"limit": 50}, headers=admin_headers)).json()
    )

    # RESTClient(base_url, token)
    headers = {"accept": "application/json", "authorization": f"Bearer {user.api_key}"}

    # create_agent: first the memory functions as tools (update=True), then the agent.
    for name in ("core_memory_append", "core_memory_replace"):
        schema = {**APPEND_SCHEMA, "name": name}
        data = {
            "source_code": APPEND_SOURCE,
            "source_type": "python",
            "tags": ["memory", "memgpt-base"],
            "json_schema": schema,
            "update": True,
        }
        response = await http.post("/api/tools", json=data, headers=headers)
        assert response.status_code == 200, response.text
        ToolModel(**response.json())
    payload = {
        "config": {
            "name": "client_agent",
            "preset": None,
            "system": None,
            "persona": "I am Sam.",
            "human": "First name: Chad",
            "function_names": [*BASE_TOOLS, "core_memory_append", "core_memory_replace"],
            "metadata": {"human:": "basic", "persona": "sam_pov"},
        }
    }
    response = await http.post("/api/agents", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    created = CreateAgentResponse(**response.json())
    # RESTClient turns this into memgpt.data_types.EmbeddingConfig, which asserts these three
    # are set (tests/e2e/test_memgpt_pymemgpt.py runs the real client).
    embedding = created.agent_state.embedding_config
    assert embedding.embedding_endpoint_type == "keyword"
    assert embedding.embedding_dim == 1
    assert embedding.embedding_chunk_size == 2000
    agent_id = str(created.agent_state.id)
    assert created.agent_state.user_id == user.user_id

    agents = ListAgentsResponse(**(await http.get("/api/agents", headers=headers)).json())
    assert agents.num_agents == 1
    # agent_exists / get_agent
    config = await http.get(f"/api/agents/{agent_id}/config", headers=headers)
    assert config.status_code == 200
    assert GetAgentResponse(**config.json()).agent_state.embedding_config == embedding
    missing = await http.get(f"/api/agents/{uuid.uuid4()}/config", headers=headers)
    assert missing.status_code == 404  # agent_exists → False

    memory = GetAgentMemoryResponse(
        **(await http.get(f"/api/agents/{agent_id}/memory", headers=headers)).json()
    )
    assert memory.core_memory.human == "First name: Chad"
    updated = UpdateAgentMemoryResponse(
        **(
            await http.post(
                f"/api/agents/{agent_id}/memory", json={"human": "First name: Ada"}, headers=headers
            )
        ).json()
    )
    assert updated.new_core_memory.human == "First name: Ada"

    inserted = InsertAgentArchivalMemoryResponse(
        **(
            await http.post(
                f"/api/agents/{agent_id}/archival",
                json={"content": "Ada likes tea"},
                headers=headers,
            )
        ).json()
    )
    archival = GetAgentArchivalMemoryResponse(
        **(
            await http.get(
                f"/api/agents/{agent_id}/archival", params={"limit": 1000}, headers=headers
            )
        ).json()
    )
    assert [str(m.id) for m in archival.archival_memory] == inserted.ids

    # user_message → send_message(stream=False)
    env.scripts.queue.append(say("Hello Ada!"))
    sent = await http.post(
        f"/api/agents/{agent_id}/messages",
        json={"message": "hi", "role": "user", "stream": False},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    reply = UserMessageResponse(**sent.json())
    assert reply.usage.step_count == 1
    # get_messages: before/after None are dropped by requests; limit 1000.
    messages = GetAgentMessagesResponse(
        **(
            await http.get(
                f"/api/agents/{agent_id}/messages-cursor", params={"limit": 1000}, headers=headers
            )
        ).json()
    )
    assert [m["role"] for m in messages.messages] == ["tool", "assistant", "user"]

    renamed = await http.patch(
        f"/api/agents/{agent_id}/rename", json={"agent_name": "renamed"}, headers=headers
    )
    assert renamed.status_code == 200
    assert GetAgentResponse(**renamed.json()).agent_state.name == "renamed"

    ListHumansResponse(**(await http.get("/api/humans", headers=headers)).json())
    human = await http.post("/api/humans", json={"name": "ada", "text": "Ada"}, headers=headers)
    HumanModel(**human.json())
    ListPresetsResponse(**(await http.get("/api/presets", headers=headers)).json())
    PresetModel(**(await http.get("/api/presets/memgpt_chat", headers=headers)).json())
    tools = await http.get("/api/tools", headers=headers)
    assert {"core_memory_append", "send_message"} <= {
        t.name for t in ListToolsResponse(**tools.json()).tools
    }

    deleted = await http.delete(
        f"/api/agents/{agent_id}/archival?id={inserted.ids[0]}",
        headers=headers,
    )
    assert deleted.status_code == 200
    assert (await http.delete(f"/api/agents/{agent_id}", headers=headers)).status_code == 200

    # Admin.delete_key / delete_user
    gone = await http.delete(
        "/admin/users/keys", params={"api_key": key.api_key}, headers=admin_headers
    )
    assert gone.status_code == 200
    DeleteUserResponse(
        **(
            await http.delete(
                "/admin/users", params={"user_id": str(user.user_id)}, headers=admin_headers
            )
        ).json()
    )
