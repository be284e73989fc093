"""Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`.

The SDK picks its exception class from the HTTP status (401 AuthenticationError, 404
NotFoundError, 429 RateLimitError, ...); `error.type` names the kind as Anthropic does.
It retries 408, 409, 429 and every 5xx twice unless the answer says `x-should-retry:
false`: a 5xx roost gives no Retry-After for (a bug, a model that failed) would fail the
same way again, so it says so; a busy model's 503 with Retry-After is worth retrying.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from roost.api.anthropic.wire import AnthropicError
from roost.api.errors import ApiError, document, register_header_renderer, register_renderer

PREFIX = "/v1/messages"  # and /v1/messages/count_tokens
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",  # a busy or unloadable model, as Ollama maps it
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def response(status: int, message: str, retry_after: int | None = None) -> Response:
    """The error as an HTTP answer (for routes that answer in this shape by header)."""
    answer = JSONResponse(error_body(status, message), status_code=status)
    if status >= 500 and retry_after is None:
        answer.headers["x-should-retry"] = "false"
    return answer


def render(error: ApiError) -> Response:
    return response(error.status, error.message, error.retry_after)


def register() -> None:
    register_renderer(PREFIX, render)
    # /v1/models is OpenAI's route; the Anthropic SDK's requests to it get this shape.
    register_header_renderer("/v1/models", "anthropic-version", render)
    document(render, AnthropicError)
