"""MemGPT 0.3's wire shapes: AgentState, the legacy agent list, Message.to_json, models of
humans, personas, presets and tools, and the message events (streamed or collected)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from roost.core.agents import Agent, AgentMessage, LibraryItem
from roost.services.agents import AgentView
from roost.services.agents.defaults import CORE_LIMIT
from roost.services.agents.events import (
    AgentCall,
    AgentEvent,
    AgentReturn,
    AgentSaid,
    AgentThought,
)
from roost.services.container import Services

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # created_at of built-in items


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _block(value: str) -> dict[str, Any]:
    return {"description": None, "limit": CORE_LIMIT, "value": value}


def agent_state(agent: Agent, services: Services) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "description": None,
        "user_id": agent.user_id,
        "preset": agent.preset,
        "created_at": int(agent.created_at.timestamp()),
        "tools": agent.tools,
        "system": agent.system,
        "llm_config": services.agents.llm_config(agent),
        "embedding_config": services.agents.embedding_config(),
        "state": {
            "persona": agent.persona,
            "human": agent.human,
            "system": agent.system,
            "preset": agent.preset,
            "memory": {"persona": _block(agent.persona), "human": _block(agent.human)},
        },
        "metadata": agent.meta,
    }


def agent_response(agent: Agent, services: Services) -> dict[str, Any]:
    """GetAgentResponse: GET /config and PATCH /rename."""
    last = int(agent.last_run_at.timestamp()) if agent.last_run_at else None
    return {"agent_state": agent_state(agent, services), "sources": [], "last_run_at": last}


def agent_summary(view: AgentView) -> dict[str, Any]:
    """An agent in GET /api/agents (MemGPT's list_agents_legacy shape)."""
    agent = view.agent
    return {
        "id": agent.id,
        "name": agent.name,
        "user_id": agent.user_id,
        "preset": agent.preset,
        "human": agent.human_name,
        "persona": agent.persona_name,
        "created_at": _iso(agent.created_at),
        "tools": agent.tools,
        "memory": {
            "core_memory": {"persona": agent.persona, "human": agent.human},
            "recall_memory": view.recall,
            "archival_memory": view.archival,
        },
        "last_run": _iso(agent.last_run_at) if agent.last_run_at else None,
        "sources": [],
    }


def core_memory(agent: Agent) -> dict[str, str]:
    return {"human": agent.human, "persona": agent.persona}


def preset_out(item: LibraryItem, created: datetime | None = None) -> dict[str, Any]:
    data = item.data
    return {
        "name": item.name,
        "id": item.id,
        "user_id": item.user_id,
        "description": data.get("description"),
        "created_at": _iso(created or item.created_at or _EPOCH),
        "system": data.get("system", ""),
        "system_name": data.get("system_name"),
        "persona": data.get("persona", ""),
        "persona_name": data.get("persona_name"),
        "human": data.get("human", ""),
        "human_name": data.get("human_name"),
        "functions_schema": data.get("functions_schema", []),
    }


def text_item_out(item: LibraryItem) -> dict[str, Any]:
    """HumanModel / PersonaModel."""
    return {
        "text": item.data.get("text", ""),
        "name": item.name,
        "id": item.id,
        "user_id": item.user_id,
    }


def tool_out(item: LibraryItem) -> dict[str, Any]:
    """ToolModel."""
    data = item.data
    return {
        "name": item.name,
        "id": item.id,
        "tags": data.get("tags") or [],
        "source_type": data.get("source_type"),
        "source_code": data.get("source_code"),
        "module": data.get("module"),
        "json_schema": data.get("json_schema") or {},
        "user_id": item.user_id,
    }


def message_json(message: AgentMessage, in_context: bool) -> dict[str, Any]:
    """MemGPT's Message.to_json(), plus `in_context`."""
    return {
        "id": message.id,
        "user_id": message.user_id,
        "agent_id": message.agent_id,
        "text": message.text,
        "model": message.model,
        "created_at": _iso(message.created_at),
        "role": message.role,
        "name": message.name,
        "embedding": None,
        "embedding_dim": None,
        "embedding_model": None,
        "tool_calls": message.tool_calls,
        "tool_call_id": message.tool_call_id,
        "in_context": in_context,
    }


def _call_text(event: AgentCall) -> str:
    """MemGPT's legacy form: name(python repr of the arguments), not JSON."""
    return f"{event.name}({event.arguments!r})"


def legacy_item(event: AgentEvent) -> dict[str, Any] | None:
    """An event as the legacy stream (`"stream": true`) and the non-streamed list show it."""
    if isinstance(event, AgentThought):
        return {"internal_monologue": event.text, "date": _iso(event.date), "id": event.message_id}
    if isinstance(event, AgentCall):
        return {
            "function_call": _call_text(event),
            "date": _iso(event.date),
            "id": event.message_id,
        }
    if isinstance(event, AgentSaid):
        return {"assistant_message": event.text, "date": _iso(event.date), "id": event.message_id}
    if isinstance(event, AgentReturn):
        return {
            "function_return": event.output,
            "status": "success" if event.ok else "error",
            "date": _iso(event.date),
            "id": event.message_id,
        }
    return None


def step_item(event: AgentEvent) -> dict[str, Any] | None:
    """An event in step streaming (`stream_steps`): calls as objects, no assistant_message."""
    if isinstance(event, AgentCall):
        call = {
            "id": event.call_id,
            "name": event.name,
            "arguments": json.dumps(event.arguments, ensure_ascii=False),
        }
        return {"function_call": call, "id": event.message_id, "date": _iso(event.date)}
    if isinstance(event, AgentSaid):
        return None
    return legacy_item(event)


def frame(payload: Any) -> str:
    """One SSE event; JSON spaced like Python's json.dumps, as MemGPT sends it."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n"
