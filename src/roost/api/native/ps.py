"""GET /api/ps: the local models loaded now, with their memory and when they unload;
DELETE /api/ps/{name}: unload one now (`roost stop`).

Ollama's /api/ps: any authenticated user may see which models are loaded (no user's
data is in it). Unloading one slows every user's next request to it: admins only.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep, require_admin
from roost.api.errors import NativeError
from roost.services.loaded import LoadedList, Stopped

router = APIRouter(tags=["native"])

MAX_NAME = 300  # as a pulled model's name (api/native/pull.py)


@router.get("/api/ps", response_model=None, responses=docs.ok(LoadedList))
async def loaded(services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    return asdict(LoadedList(services.loaded.list()))


@router.delete(
    "/api/ps/{name:path}",
    response_model=None,
    responses={
        **docs.ok(Stopped),
        403: {"model": NativeError, "description": "The key is not an admin's"},
    },
)
async def stop(
    name: Annotated[str, Path(min_length=1, max_length=MAX_NAME)],
    services: ServicesDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Unload a local model now, or once its requests are done (admins only)."""
    require_admin(principal, "unloading a model")
    return asdict(Stopped(name, await services.loaded.stop(name)))
