"""GET /v1/models and GET /v1/models/{id}: the models configured in roost."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from roost.api import docs
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


@router.get("/models", response_model=None, responses=docs.ok(ModelList))
async def list_models(services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    return {"object": "list", "data": [_model(info) for info in services.models.list()]}


# `:path` because upstream model names often contain slashes (org/model:tag).
@router.get("/models/{model_id:path}", response_model=None, responses=docs.ok(ModelObject))
async def get_model(model_id: str, services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    return _model(services.models.get(model_id))
