"""LlamaChat's error shape, from the seed: `{"error": "Description of what went wrong."}`.

Registered for LlamaChat's own paths only, so the other dialects' /api routes keep theirs.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api import errors
from roost.api.llamachat.schemas import LlamaChatError

PREFIXES = ("/api/conversations", "/api/transcription")


def render_llamachat(error: errors.ApiError) -> Response:
    return JSONResponse({"error": error.message}, status_code=error.status)


def register() -> None:
    errors.document(render_llamachat, LlamaChatError)
    for prefix in PREFIXES:
        errors.register_renderer(prefix, render_llamachat)
