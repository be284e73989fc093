"""GET /v1/models and /v1/models/{id} in Anthropic's shape, for requests that carry the
`anthropic-version` header (the Anthropic SDK always sends it, the OpenAI SDK never does).

The OpenAI dialect owns the routes (api/openai/models.py) and hands such requests here;
their errors, a wrong key's 401 included, are rendered in Anthropic's shape by the same
header (errors.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from roost.core.errors import InvalidRequest
from roost.services.models import ModelInfo, ModelService

HEADER = "anthropic-version"
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


def asked(request: Request) -> bool:
    return HEADER in request.headers


def _model(info: ModelInfo) -> dict[str, Any]:
    created = datetime.fromtimestamp(info.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": info.name, "display_name": info.name, "created_at": created}


def page(request: Request, models: ModelService) -> dict[str, Any]:
    """One page of the models, in roost's order, with Anthropic's cursors."""
    query = request.query_params
    before, after = query.get("before_id"), query.get("after_id")
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    if not re.fullmatch(r"[0-9]{1,4}", raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidRequest(f"limit: must be an integer from 1 to {MAX_LIMIT}", "limit")
    if before is not None and after is not None:
        raise InvalidRequest("give before_id or after_id, not both", "before_id")
    limit = int(raw_limit)
    infos = models.list()
    names = [info.name for info in infos]
    cursor = before if before is not None else after
    if cursor is not None and cursor not in names:
        name = "before_id" if before is not None else "after_id"
        raise InvalidRequest(f"{name}: no model '{cursor}'", name)
    if after is not None:
        start = names.index(after) + 1
        chosen, has_more = infos[start : start + limit], start + limit < len(infos)
    elif before is not None:
        end = names.index(before)
        chosen, has_more = infos[max(0, end - limit) : end], end - limit > 0
    else:
        chosen, has_more = infos[:limit], limit < len(infos)
    data = [_model(info) for info in chosen]
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def one(name: str, models: ModelService) -> dict[str, Any]:
    return _model(models.get(name))  # an unknown name: ModelNotFound, a 404
