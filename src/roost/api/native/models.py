"""GET /api/models: the configured models with what roost knows about each."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from roost.api.deps import PrincipalDep, ServicesDep

router = APIRouter(tags=["native"])


@router.get("/api/models")
async def list_models(services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    return {"models": [asdict(info) for info in services.models.list()]}
