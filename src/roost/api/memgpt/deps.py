"""The MemGPT admin check: the admin password (or an admin user's key) as the bearer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from roost.api.deps import get_principal
from roost.core.errors import Unauthorized
from roost.services.auth import Principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Unauthorized("Unauthorized")
    return principal


AdminDep = Annotated[Principal, Depends(get_admin)]
