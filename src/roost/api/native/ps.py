"""GET /api/ps: the local models loaded now, with their memory and when they unload.

Ollama's /api/ps: any authenticated user may see which models are loaded (no user's
data is in it).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.services.loaded import LoadedList

router = APIRouter(tags=["native"])


@router.get("/api/ps", response_model=None, responses=docs.ok(LoadedList))
async def loaded(services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    return asdict(LoadedList(services.loaded.list()))
