"""What routes declare for /openapi.json beyond their signatures: streams, other media
types, bodies read by hand. Documentation only: nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


# Models that only stream payloads refer to; roost.api.openapi adds them to the components.
STREAM_MODELS: set[type[BaseModel]] = set()


def _stream(description: str, payloads: Sequence[type[BaseModel] | str]) -> dict[str, Any]:
    """One event of a text/event-stream: OpenAPI 3.1 (and schemathesis) read its `schema` as
    that of one event, with the SSE fields as properties (3.2 calls it `itemSchema`).
    `payloads`: the JSON bodies (models) and the literal markers (str) `data` may hold."""
    data: dict[str, Any] = {"type": "string", "description": description}
    if payloads:
        choices: list[dict[str, Any]] = []
        for payload in payloads:
            if isinstance(payload, str):
                choices.append({"const": payload})
            else:
                STREAM_MODELS.add(payload)
                ref = {"$ref": f"#/components/schemas/{payload.__name__}"}
                choices.append({"contentMediaType": "application/json", "contentSchema": ref})
        data["anyOf"] = choices
    return {
        "schema": {
            "type": "object",
            "description": "One Server-Sent Event",
            "required": ["data"],
            "properties": {
                "data": data,
                "event": {"type": "string"},
                "id": {"type": "string"},
                "retry": {"type": "integer"},
            },
        }
    }


def sse(description: str, payloads: Sequence[type[BaseModel] | str] = ()) -> Responses:
    """A route that answers with a `text/event-stream` only."""
    return {
        200: {
            "description": "Server-Sent Events",
            "content": {"text/event-stream": _stream(description, payloads)},
        }
    }


def json_or_sse(
    model: type[BaseModel], description: str, payloads: Sequence[type[BaseModel] | str] = ()
) -> Responses:
    """A route whose body says whether it streams: JSON, or a `text/event-stream`."""
    return {
        200: {
            "model": model,
            "description": "JSON, or Server-Sent Events when the body asks to stream",
            "content": {"text/event-stream": _stream(description, payloads)},
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
