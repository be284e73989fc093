"""MemGPT's error shape: FastAPI's `{"detail": "..."}`, which MemGPT clients print.

Registered for the MemGPT-only paths; roost's own /api routes (chat, sessions, memory,
status, models, approvals, kernel2) keep their envelopes.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api.errors import ApiError, document, register_renderer
from roost.api.memgpt.schemas import MemGPTError

PREFIXES = (
    "/admin",
    "/api/admin",
    "/api/auth",
    "/api/agents",
    "/api/humans",
    "/api/personas",
    "/api/presets",
    "/api/tools",
    "/api/config",
)


def render(error: ApiError) -> Response:
    return JSONResponse({"detail": error.message}, status_code=error.status)


def busy(message: str, *, retry: bool) -> Response:
    """409 for a message to an agent that is answering another one."""
    response = JSONResponse({"detail": message}, status_code=409)
    response.headers["x-should-retry"] = "true" if retry else "false"
    return response


def register() -> None:
    document(render, MemGPTError)
    for prefix in PREFIXES:
        register_renderer(prefix, render)
