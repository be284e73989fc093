"""GET /v1/models and GET /v1/models/{id}: the models configured in roost."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from roost.api import docs
from roost.api.anthropic import models as anthropic
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.openai.schemas import ModelList, ModelObject
from roost.services.models import ModelInfo

router = APIRouter(tags=["openai"])


def _model(info: ModelInfo) -> dict[str, Any]:
    model: dict[str, Any] = {
        "id": info.name,
        "object": "model",
        "created": info.created,
        "owned_by": "roost",
    }
    if info.state is not None:  # roost's own fields, for models it runs itself
        model.update(state=info.state, restarts=info.restarts, error=info.error)
    return model


# With an `anthropic-version` header (the Anthropic SDK's), Anthropic's shape.
@router.get("/models", response_model=None, responses=docs.ok(ModelList))
async def list_models(request: Request, services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    if anthropic.asked(request):
        return anthropic.page(request, services.models)
    return {"object": "list", "data": [_model(info) for info in services.models.list()]}


# `:path` because upstream model names often contain slashes (org/model:tag).
@router.get("/models/{model_id:path}", response_model=None, responses=docs.ok(ModelObject))
async def get_model(
    model_id: str, request: Request, services: ServicesDep, _: PrincipalDep
) -> dict[str, Any]:
    if anthropic.asked(request):
        return anthropic.one(model_id, services.models)
    return _model(services.models.get(model_id))
