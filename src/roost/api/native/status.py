"""GET /health (public) and GET /api/status."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.native.schemas import Health
from roost.services.status import ServerStatus

router = APIRouter(tags=["native"])


@router.get("/health")
async def health() -> Health:
    return Health(status="ok")


@router.get("/api/status", response_model=None, responses=docs.ok(ServerStatus))
async def status(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    return asdict(services.status.status(principal.user))
