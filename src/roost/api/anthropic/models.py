"""GET /v1/models and /v1/models/{id} in Anthropic's shape, for requests that carry the
`anthropic-version` header (the Anthropic SDK always sends it, the OpenAI SDK never does).

The OpenAI dialect owns the routes (api/openai/models.py) and hands such requests here.
Errors here are answered in Anthropic's shape directly: the app's error renderers go by
path, and /v1/models is OpenAI's. Credentials are checked before (the route's dependency),
so a wrong key is OpenAI's 401 body: the SDK raises AuthenticationError from the status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from roost.api.anthropic.errors import response as error
from roost.core.errors import ModelNotFound
from roost.services.models import ModelInfo, ModelService

HEADER = "anthropic-version"
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


def asked(request: Request) -> bool:
    return HEADER in request.headers


def _model(info: ModelInfo) -> dict[str, Any]:
    created = datetime.fromtimestamp(info.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": info.name, "display_name": info.name, "created_at": created}


def page(request: Request, models: ModelService) -> Response:
    """One page of the models, in roost's order, with Anthropic's cursors."""
    query = request.query_params
    before, after = query.get("before_id"), query.get("after_id")
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return error(400, f"limit: must be an integer from 1 to {MAX_LIMIT}")
    if before is not None and after is not None:
        return error(400, "give before_id or after_id, not both")
    limit = int(raw_limit)
    infos = models.list()
    names = [info.name for info in infos]
    cursor = before if before is not None else after
    if cursor is not None and cursor not in names:
        return error(
            400, f"{'before_id' if before is not None else 'after_id'}: no model '{cursor}'"
        )
    if after is not None:
        start = names.index(after) + 1
        chosen, has_more = infos[start : start + limit], start + limit < len(infos)
    elif before is not None:
        end = names.index(before)
        chosen, has_more = infos[max(0, end - limit) : end], end - limit > 0
    else:
        chosen, has_more = infos[:limit], limit < len(infos)
    data = [_model(info) for info in chosen]
    return JSONResponse(
        {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    )


def one(name: str, models: ModelService) -> Response:
    try:
        return JSONResponse(_model(models.get(name)))
    except ModelNotFound as exc:
        return error(404, exc.message)
