"""MemGPT agents: create, list, get (/config), rename, delete; core and archival memory.

Every route checks ownership: another user's agent id is 404, whatever the verb.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.memgpt.render import (
    agent_response,
    agent_state,
    agent_summary,
    core_memory,
    preset_out,
)
from roost.api.memgpt.schemas import (
    AgentList,
    AgentMemoryCounts,
    Archival,
    CreateAgentResponse,
    GetAgentResponse,
    InsertedIds,
    MemoryUpdate,
    Message,
)
from roost.core.agents import LibraryItem
from roost.core.errors import InvalidRequest
from roost.services.agents import AgentConfig

router = APIRouter(prefix="/api/agents", tags=["memgpt"])

AgentId = Annotated[str, Path(max_length=100)]
_TEXT = 20_000


class CreateAgentBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    config: dict[str, Any]


class RenameBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_name: StrictStr = Field(max_length=200)


class MemoryBody(BaseModel):
    """null or absent: leave that block as it is."""

    model_config = ConfigDict(extra="ignore")

    human: StrictStr | None = Field(None, max_length=_TEXT)
    persona: StrictStr | None = Field(None, max_length=_TEXT)


class ArchivalBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: StrictStr


def _optional_text(config: dict[str, Any], key: str, limit: int = _TEXT) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"config.{key} must be a string of at most {limit} characters")
    return value


def _function_names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 100 for v in value):
        raise InvalidRequest("config.function_names must be a list of tool names")
    if len(value) > 100:
        raise InvalidRequest("config.function_names may name at most 100 tools")
    return list(value)


def parse_config(config: dict[str, Any]) -> AgentConfig:
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidRequest("config.metadata must be an object")
    return AgentConfig(
        name=_optional_text(config, "name", 200),
        preset=_optional_text(config, "preset", 100),
        human=_optional_text(config, "human"),
        persona=_optional_text(config, "persona"),
        human_name=_optional_text(config, "human_name", 100),
        persona_name=_optional_text(config, "persona_name", 100),
        system=_optional_text(config, "system"),
        function_names=_function_names(config.get("function_names")),
        metadata=metadata,
        model=_optional_text(config, "model", 200),
    )


@router.get("", response_model=None, responses=docs.ok(AgentList))
async def list_agents(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    views = await services.agents.list(principal.user)
    return {"num_agents": len(views), "agents": [agent_summary(v) for v in views]}


@router.post("", response_model=None, responses=docs.ok(CreateAgentResponse))
async def create_agent(
    body: CreateAgentBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    agent, preset = await services.agents.create(principal.user, parse_config(body.config))
    item = LibraryItem(preset.pop("id"), None, "preset", preset.pop("name"), preset)
    return {
        "agent_state": agent_state(agent, services),
        "preset": preset_out(item, created=agent.created_at),
    }


@router.get("/{agent_id}/config", response_model=None, responses=docs.ok(GetAgentResponse))
async def get_agent(
    agent_id: AgentId, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    return agent_response(await services.agents.get(principal.user, agent_id), services)


@router.patch("/{agent_id}/rename", response_model=None, responses=docs.ok(GetAgentResponse))
async def rename_agent(
    agent_id: AgentId, body: RenameBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    agent = await services.agents.rename(principal.user, agent_id, body.agent_name)
    return agent_response(agent, services)


@router.delete("/{agent_id}", response_model=None, responses=docs.ok(Message))
async def delete_agent(
    agent_id: AgentId, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    await services.agents.delete(principal.user, agent_id)
    return {"message": f"Agent agent_id={agent_id} successfully deleted"}


@router.get("/{agent_id}/memory", response_model=None, responses=docs.ok(AgentMemoryCounts))
async def get_memory(
    agent_id: AgentId, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    view = await services.agents.memory(principal.user, agent_id)
    return {
        "core_memory": core_memory(view.agent),
        "recall_memory": view.recall,
        "archival_memory": view.archival,
    }


@router.post("/{agent_id}/memory", response_model=None, responses=docs.ok(MemoryUpdate))
async def update_memory(
    agent_id: AgentId, body: MemoryBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    old, new = await services.agents.update_memory(
        principal.user, agent_id, human=body.human, persona=body.persona
    )
    return {"old_core_memory": core_memory(old), "new_core_memory": core_memory(new)}


def _passages(found: list[Any]) -> dict[str, Any]:
    return {"archival_memory": [{"id": p.id, "contents": p.text} for p in found]}


@router.get("/{agent_id}/archival/all", response_model=None, responses=docs.ok(Archival))
async def all_archival(
    agent_id: AgentId, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    found = await services.agents.archival(
        principal.user, agent_id, after=None, before=None, limit=10_000
    )
    return _passages(found)


@router.get("/{agent_id}/archival", response_model=None, responses=docs.ok(Archival))
async def list_archival(
    agent_id: AgentId,
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:
    found = await services.agents.archival(
        principal.user, agent_id, after=after, before=before, limit=limit
    )
    return _passages(found)


@router.post("/{agent_id}/archival", response_model=None, responses=docs.ok(InsertedIds))
async def insert_archival(
    agent_id: AgentId, body: ArchivalBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    made = await services.agents.insert_archival(principal.user, agent_id, body.content)
    return {"ids": [p.id for p in made]}


@router.delete("/{agent_id}/archival", response_model=None, responses=docs.ok(Message))
async def delete_archival(
    agent_id: AgentId,
    services: ServicesDep,
    principal: PrincipalDep,
    id: Annotated[str, Query(max_length=100)],
) -> dict[str, Any]:
    await services.agents.delete_archival(principal.user, agent_id, id)
    return {"message": f"Memory id={id} successfully deleted"}
