"""GET /health (public) and GET /api/status."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from roost.api.deps import PrincipalDep, ServicesDep

router = APIRouter(tags=["native"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/status")
async def status(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    return asdict(services.status.status(principal.user))
