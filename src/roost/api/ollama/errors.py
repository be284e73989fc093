"""Ollama's error shape: `{"error": "..."}` with the real status, for every path under
/ollama (and so at the root of the [ollama] listener, which forwards there)."""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api import errors
from roost.api.ollama.schemas import OllamaError

PREFIX = "/ollama"


def render_ollama(error: errors.ApiError) -> Response:
    return JSONResponse({"error": error.message}, status_code=error.status)


def register() -> None:
    errors.document(render_ollama, OllamaError)
    errors.register_renderer(PREFIX, render_ollama)
