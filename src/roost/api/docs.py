"""What routes declare for /openapi.json beyond their signatures: streams, other media
types, bodies read by hand. Documentation only: nothing here runs per request.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


def _stream(description: str) -> dict[str, Any]:
    # OpenAPI 3.1 (and schemathesis) read a text/event-stream `schema` as that of one event,
    # with the SSE fields as properties; 3.2 would call it `itemSchema`.
    return {
        "schema": {
            "type": "object",
            "description": "One Server-Sent Event",
            "required": ["data"],
            "properties": {
                "data": {"type": "string", "description": description},
                "event": {"type": "string"},
                "id": {"type": "string"},
                "retry": {"type": "integer"},
            },
        }
    }


def sse(description: str, status: int = 200) -> Responses:
    """A route that answers with a `text/event-stream` only."""
    return {
        status: {
            "description": "Server-Sent Events",
            "content": {"text/event-stream": _stream(description)},
        }
    }


def json_or_sse(model: type[BaseModel], description: str) -> Responses:
    """A route whose body says whether it streams: JSON, or a `text/event-stream`."""
    return {
        200: {
            "model": model,
            "description": "JSON, or Server-Sent Events when the body asks to stream",
            "content": {"text/event-stream": _stream(description)},
        }
    }


def ok(model: Any, status: int = 200, description: str = "Successful Response") -> Responses:
    """A JSON body the handler builds by hand (a dict), described by `model`."""
    return {status: {"model": model, "description": description}}


def text(media_type: str, description: str) -> dict[str, Any]:
    return {media_type: {"schema": {"type": "string", "description": description}}}


def body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """`openapi_extra` for a body the handler reads itself (for chat.nvim's and LlamaChat's
    lenient parsing, or a multipart form)."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}
