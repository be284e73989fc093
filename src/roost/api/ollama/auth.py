"""Who calls an Ollama route: a roost key (Authorization: Bearer, as the ollama client
sends OLLAMA_API_KEY), or, with `[ollama] auth = false`, nobody from this machine.

Ollama itself asks for no key, and clients often have no field for one: `auth = false`
lets a request from a loopback address that presents no key act as the default user
(roost refuses the setting unless both binds are loopback: app.check_settings). A key
that is presented is checked as always.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from roost.api import openapi
from roost.api.credentials import presented_key
from roost.api.deps import authenticate, get_services, is_loopback
from roost.core import requester
from roost.services.auth import Principal
from roost.services.container import Services


async def principal(conn: HTTPConnection, services: Services) -> Principal:
    if not services.settings.ollama.auth and is_loopback(conn) and presented_key(conn) is None:
        user = services.auth.default_user
        requester.current.set(user.id)
        return Principal(user, is_admin=False, via="loopback")
    return await authenticate(conn, services)


async def get_principal(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Principal:
    return await principal(request, services)


openapi.AUTHENTICATING.add(get_principal)  # its routes may answer 401
PrincipalDep = Annotated[Principal, Depends(get_principal)]
