"""The only mapping from domain errors to HTTP, with one renderer per dialect.

Each dialect registers the path prefixes it owns and how its errors look on the wire;
everything else gets the native envelope `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from roost.core.errors import RoostError

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "model_not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "conflict": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "internal_error": 500,
    "provider_error": 502,
    "unavailable": 503,
    "config_error": 500,
}
_CODE_BY_STATUS = {status: code for code, status in reversed(STATUS_BY_CODE.items())}


@dataclass(frozen=True, slots=True)
class ApiError:
    """An error on its way out: status, stable code, human message, offending field."""

    status: int
    code: str
    message: str
    param: str | None = None
    retry_after: int | None = None  # seconds, sent as Retry-After (429, 503)


Renderer = Callable[[ApiError], Response]


class NativeErrorDetail(BaseModel):
    code: str
    message: str


class NativeError(BaseModel):
    """roost's own error envelope (and the shape of any path no dialect claims)."""

    error: NativeErrorDetail


def render_native(error: ApiError) -> Response:
    body = {"error": {"code": error.code, "message": error.message}}
    return JSONResponse(body, status_code=error.status)


_RENDERERS: list[tuple[str, Renderer]] = []
_EXACT: dict[str, Renderer] = {}
_BY_HEADER: list[tuple[str, str, Renderer]] = []  # (path prefix, header, renderer)
# What each renderer's body looks like, for /openapi.json (roost.api.openapi).
_SCHEMAS: dict[Renderer, type[BaseModel]] = {render_native: NativeError}


def document(renderer: Renderer, schema: type[BaseModel]) -> None:
    """Declare the JSON body `renderer` writes, so the OpenAPI document can show it."""
    _SCHEMAS[renderer] = schema


def error_schema_for(path: str) -> type[BaseModel]:
    """The error body a request to `path` gets: the same lookup as the renderer's."""
    return _SCHEMAS.get(renderer_for(path), NativeError)


def register_renderer(prefix: str, renderer: Renderer) -> None:
    """Render errors under `prefix` with `renderer`; registering again replaces it."""
    kept = [(p, r) for p, r in _RENDERERS if p != prefix]
    _RENDERERS[:] = sorted([*kept, (prefix, renderer)], key=lambda i: len(i[0]), reverse=True)


def register_header_renderer(prefix: str, header: str, renderer: Renderer) -> None:
    """Render errors under `prefix` with `renderer` when the request carries `header`: a
    route two dialects share, told apart by a header (GET /v1/models is OpenAI's, and
    Anthropic's when `anthropic-version` is sent)."""
    kept = [(p, h, r) for p, h, r in _BY_HEADER if (p, h) != (prefix, header.lower())]
    _BY_HEADER[:] = [*kept, (prefix, header.lower(), renderer)]


def register_path_renderer(path: str, renderer: Renderer) -> None:
    """Render errors of exactly `path` with `renderer` (for "/", which prefixes everything)."""
    _EXACT[path] = renderer


def renderer_for(path: str) -> Renderer:
    exact = _EXACT.get(path)
    if exact is not None:
        return exact
    for prefix, renderer in _RENDERERS:
        if path.startswith(prefix):
            return renderer
    return render_native


def from_domain(exc: RoostError) -> ApiError:
    status = STATUS_BY_CODE.get(exc.code, 500)
    param, retry = getattr(exc, "param", None), getattr(exc, "retry_after", None)
    return ApiError(status, exc.code, exc.message, param, retry)


def render(path: str, error: ApiError, headers: Headers | None = None) -> Response:
    """The error as the dialect owning `path` writes it (`headers`: the request's, for a
    route shared by dialects)."""
    renderer = renderer_for(path)
    if headers is not None:
        for prefix, header, shared in _BY_HEADER:
            if header in headers and path.startswith(prefix):
                renderer = shared
    response = renderer(error)
    if error.status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="roost"')
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


# pydantic puts the member of a union it tried into `loc` ("str", "list[str]",
# "constrained-str"); a client's `param` names only the field.
_TYPE_TAG = re.compile(r"^(str|int|float|bool|dict|list|none|.*[\[\]-].*)$")


def _field_path(loc: tuple[Any, ...]) -> list[str]:
    return [str(p) for p in loc if p != "body" and not _TYPE_TAG.match(str(p))]


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    for err in exc.errors():
        loc = _field_path(tuple(err.get("loc", ())))
        if err.get("type") == "json_invalid":
            return "request body is not valid JSON", None
        if err.get("type") == "missing":
            field = ".".join(loc)
            return f"Missing required parameter: {field}", field or None
        field = ".".join(loc)
        msg = str(err.get("msg", "invalid value"))
        return (f"'{field}': {msg}" if field else msg), field or None
    return "invalid request", None


def install(app: FastAPI) -> None:
    """Route every error through the renderers, so no dialect leaks FastAPI's default shape."""

    async def domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RoostError)
        return render(request.url.path, from_domain(exc), request.headers)

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        message, param = _validation_message(exc)
        return render(
            request.url.path, ApiError(400, "invalid_request", message, param), request.headers
        )

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _CODE_BY_STATUS.get(exc.status_code, "invalid_request")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            detail = f"no route for {request.method} {request.url.path}"
        error = ApiError(exc.status_code, code, detail)
        response = render(request.url.path, error, request.headers)
        if response.status_code == exc.status_code:  # e.g. not a 405 a dialect made a 404
            for name, value in (exc.headers or {}).items():
                response.headers[name] = value
        return response

    async def not_unicode(request: Request, exc: Exception) -> Response:
        # JSON may escape a lone UTF-16 surrogate ("\ud800"), which Python's json accepts
        # but no database, file or upstream can encode: the client's text is invalid.
        assert isinstance(exc, UnicodeEncodeError)
        if exc.reason != "surrogates not allowed":
            return await unexpected(request, exc)
        message = "text must be valid Unicode, without a lone surrogate escape (\\ud800-\\udfff)"
        return render(request.url.path, ApiError(400, "invalid_request", message), request.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(
            request.url.path,
            ApiError(500, "internal_error", "internal server error"),
            request.headers,
        )

    app.add_exception_handler(RoostError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(UnicodeEncodeError, not_unicode)
    app.add_exception_handler(Exception, unexpected)
