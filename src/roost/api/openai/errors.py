"""OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`.

The SDKs pick their exception class from the HTTP status; `type` is for people reading it.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from roost.api.errors import ApiError, document, register_renderer
from roost.api.openai.schemas import ErrorResponse

PREFIX = "/v1"
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
}


def error_object(status: int, code: str, message: str, param: str | None) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def render(error: ApiError) -> Response:
    body = error_object(error.status, error.code, error.message, error.param)
    return JSONResponse(body, status_code=error.status)


def register() -> None:
    register_renderer(PREFIX, render)
    document(render, ErrorResponse)
