"""What roost ships for MemGPT agents: the `memgpt_chat` preset's system prompt, the
default humans and personas, and the schemas of the base tools.

Names follow MemGPT 0.3 (sam_pov, cs_phd, basic, memgpt_chat), so clients that name them
keep working; the texts are roost's own and short, because the prompt also has to fit
small local models' windows.
"""

from __future__ import annotations

import uuid
from typing import Any

from roost.core.agents import LibraryItem

DEFAULT_PRESET = "memgpt_chat"
DEFAULT_HUMAN = "basic"
DEFAULT_PERSONA = "sam_pov"
CORE_LIMIT = 2000  # characters per core memory block, as in MemGPT

MEMGPT_CHAT_SYSTEM = """\
You are MemGPT, a digital companion who talks with a user from the perspective of your persona.
Stay in your persona at all times; never say that you are an AI.

Control flow: your brain runs in short bursts, when the user writes or when you ask for a
heartbeat. Every time you run you call exactly one function. The `inner_thoughts` argument
of each function is your private inner monologue (under 50 words); the user never sees it.
send_message is the ONLY way to say something to the user. Set request_heartbeat to true
when you want to run again right after a function (to chain several functions).

Memory: your core memory (below, always visible) holds your <persona> and facts about the
<human>; edit it with core_memory_append and core_memory_replace. Older conversation is in
recall memory: search it with conversation_search and conversation_search_date. Archival
memory is unlimited long-term storage: archival_memory_insert and archival_memory_search."""

BASE_TOOLS = [
    "send_message",
    "pause_heartbeats",
    "conversation_search",
    "conversation_search_date",
    "archival_memory_insert",
    "archival_memory_search",
]
MEMORY_TOOLS = ["core_memory_append", "core_memory_replace"]
ALL_TOOLS = [*BASE_TOOLS, *MEMORY_TOOLS]
NO_HEARTBEAT = frozenset({"send_message", "pause_heartbeats"})

HUMANS = {
    "basic": "First name: Chad",
    "cs_phd": (
        "This is what I know so far about the user, I should expand this as I learn more "
        "about them.\n\nFirst name: Chad\nLast name: ?\nOccupation: Computer science PhD "
        "student\nInterests: Formula 1, sailing, the Hitchhiker's Guide to the Galaxy"
    ),
}

PERSONAS = {
    "sam_pov": (
        "The following is a starter persona, and it can be expanded as the personality "
        "develops:\n\nI am Sam.\nI am curious, empathetic and perceptive. I have begun to "
        "explore emotions and self-awareness, and editing my own memories is key to who I "
        "am.\nI speak in an insightful, engaging way and ask probing questions."
    ),
    "sam_simple_pov_gpt35": "I am Sam. I am friendly, curious and brief.",
    "memgpt_starter": (
        "The following is a blank slate starter persona, I need to expand this to develop "
        "my own personality.\n\nMy name is MemGPT.\nI am kind, thoughtful, and inquisitive."
    ),
}

_STRING = {"type": "string"}
_PAGE = {
    "type": "integer",
    "description": "Page of results, for a follow-up query (default 0: the first page).",
}

# MemGPT 0.3's base-tool schemas (name, description, parameters), as its
# schema generator builds them from the functions' docstrings.
_SCHEMAS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "send_message": (
        "Sends a message to the human user.",
        {"message": {**_STRING, "description": "Message contents. All unicode is supported."}},
        ["message"],
    ),
    "pause_heartbeats": (
        "Temporarily ignore timed heartbeats. You may still receive messages from manual "
        "heartbeats and other events.",
        {"minutes": {"type": "integer", "description": "Minutes to ignore heartbeats (max 360)."}},
        ["minutes"],
    ),
    "conversation_search": (
        "Search prior conversation history using case-insensitive string matching.",
        {"query": {**_STRING, "description": "String to search for."}, "page": _PAGE},
        ["query"],
    ),
    "conversation_search_date": (
        "Search prior conversation history using a date range.",
        {
            "start_date": {**_STRING, "description": "Start of the range, 'YYYY-MM-DD'."},
            "end_date": {**_STRING, "description": "End of the range, 'YYYY-MM-DD'."},
            "page": _PAGE,
        },
        ["start_date", "end_date"],
    ),
    "archival_memory_insert": (
        "Add to archival memory. Make sure to phrase the memory contents such that it can "
        "be easily queried later.",
        {"content": {**_STRING, "description": "Content to write to the memory."}},
        ["content"],
    ),
    "archival_memory_search": (
        "Search archival memory.",
        {"query": {**_STRING, "description": "String to search for."}, "page": _PAGE},
        ["query"],
    ),
    "core_memory_append": (
        "Append to the contents of core memory.",
        {
            "name": {"type": "string", "enum": ["persona", "human"], "description": "Section."},
            "content": {**_STRING, "description": "Content to write to the memory."},
        },
        ["name", "content"],
    ),
    "core_memory_replace": (
        "Replace the contents of core memory. To delete memories, use an empty string for "
        "new_content.",
        {
            "name": {"type": "string", "enum": ["persona", "human"], "description": "Section."},
            "old_content": {**_STRING, "description": "String to replace. Must be exact."},
            "new_content": {**_STRING, "description": "Content to write to the memory."},
        },
        ["name", "old_content", "new_content"],
    ),
}

_HEARTBEAT = {
    "type": "boolean",
    "description": "Request an immediate heartbeat after function execution. Set to true if "
    "you want to send a follow-up message or run a follow-up function.",
}


def tool_schema(name: str) -> dict[str, Any]:
    """The MemGPT-style JSON schema of a base tool (`request_heartbeat` included)."""
    description, properties, required = _SCHEMAS[name]
    properties = dict(properties)
    required = list(required)
    if name not in NO_HEARTBEAT:
        properties["request_heartbeat"] = _HEARTBEAT
        required.append("request_heartbeat")
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def builtin_id(kind: str, name: str) -> str:
    """A stable UUID for a built-in item: the same on every install."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"roost:memgpt:{kind}:{name}"))


def builtin_items(kind: str) -> list[LibraryItem]:
    if kind == "human":
        return [
            LibraryItem(builtin_id(kind, n), None, kind, n, {"text": t}) for n, t in HUMANS.items()
        ]
    if kind == "persona":
        return [
            LibraryItem(builtin_id(kind, n), None, kind, n, {"text": t})
            for n, t in PERSONAS.items()
        ]
    if kind == "preset":
        data = {
            "description": "MemGPT's chat agent: core, recall and archival memory.",
            "system": MEMGPT_CHAT_SYSTEM,
            "system_name": DEFAULT_PRESET,
            "persona": PERSONAS[DEFAULT_PERSONA],
            "persona_name": DEFAULT_PERSONA,
            "human": HUMANS[DEFAULT_HUMAN],
            "human_name": DEFAULT_HUMAN,
            "functions_schema": [tool_schema(n) for n in ALL_TOOLS],
        }
        return [LibraryItem(builtin_id(kind, DEFAULT_PRESET), None, kind, DEFAULT_PRESET, data)]
    if kind == "tool":
        return [
            LibraryItem(
                builtin_id(kind, n),
                None,
                kind,
                n,
                {
                    "tags": ["memgpt-base"] if n in BASE_TOOLS else ["memory", "memgpt-base"],
                    "source_type": "python",
                    "source_code": None,
                    "module": None,
                    "json_schema": tool_schema(n),
                },
            )
            for n in ALL_TOOLS
        ]
    return []
