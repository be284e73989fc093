"""A JSON body read and validated the way FastAPI does, for plain ASGI endpoints.

The hottest route (the /v1 chat completions relay) skips FastAPI's per-request machinery
(dependency solving, the body field's handler); its body still goes through the same
steps, in the same order, with the same errors, so every dialect's 400 reads as before:
- no body: `missing`; a body that is not JSON: `json_invalid` (before authentication);
- a content type other than JSON: the raw bytes are validated (and refused by the model);
- validation errors located under `body`, as FastAPI reports them.
"""

from __future__ import annotations

import email.message
import json
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

M = TypeVar("M", bound=BaseModel)
_NO_BODY = object()


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False  # FastAPI's strict content type: no header, no JSON
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def json_body(request: Request) -> Any:
    """The decoded body (bytes when it is not declared JSON); `_NO_BODY` when empty."""
    try:
        raw = await request.body()
        if not raw:
            return _NO_BODY
        if not _is_json(request.headers.get("content-type")):
            return raw
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except HTTPException:
        raise  # a guard's (the body bound's 413)
    except Exception as exc:  # not UTF-8 JSON, say
        raise HTTPException(400, "There was an error parsing the body") from exc


def validated(model: type[M], body: Any) -> M:
    if body is _NO_BODY:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=body) from None
