"""GET /api/models: every model (config.toml's and pulled ones) with what roost knows about
each, and whether the caller may pull models (`can_pull`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.native.schemas import ModelList

router = APIRouter(tags=["native"])


@router.get("/api/models", response_model=None, responses=docs.ok(ModelList))
async def list_models(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    models = [asdict(info) for info in services.models.list()]
    return {"models": models, "can_pull": principal.is_admin}
