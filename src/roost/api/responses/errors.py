"""OpenAI's error object under /v1/responses, and the one error with a code of its own."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from roost.api.errors import register_renderer
from roost.api.openai import errors as openai_errors
from roost.services.responses import PreviousResponseNotFound

PREFIX = "/v1/responses"


def register() -> None:
    register_renderer(PREFIX, openai_errors.render)


def previous_not_found(exc: PreviousResponseNotFound) -> JSONResponse:
    """400 `previous_response_not_found`, the code clients such as Codex look for."""
    body = openai_errors.error_object(
        400, "previous_response_not_found", exc.message, "previous_response_id"
    )
    return JSONResponse(body, status_code=400)
