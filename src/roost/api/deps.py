"""FastAPI dependencies: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from roost.api.credentials import presented_key
from roost.api.limits import trust
from roost.core import requester
from roost.core.errors import Forbidden, InvalidRequest
from roost.services.auth import Principal
from roost.services.container import Services

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in a worker thread, on every request.
    return cast(Services, request.app.state.services)


def is_loopback(request: HTTPConnection) -> bool:
    client = request.client
    return client is not None and (client.host in LOOPBACK_HOSTS or client.host.startswith("127."))


async def get_principal(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Principal:
    # FastAPI caches a dependency per request, so this runs once however many routes ask.
    return await authenticate(request, services)


async def authenticate(conn: HTTPConnection, services: Services) -> Principal:
    """The caller of a request or WebSocket, by the one credential it presents (400 when it
    presents several); failures are throttled by the client's address."""
    client = conn.client
    principal = await services.auth.authenticate(
        presented_key(conn),
        loopback=is_loopback(conn),
        address=client.host if client is not None else "",
    )
    trust(conn)
    requester.current.set(principal.user.id)  # whose turn shares a model's slots
    return principal


async def single_query_values(request: Request) -> None:
    """A query parameter given twice is ambiguous: refuse it rather than use the last one.

    A router dependency (create_app) of every router whose routes take query parameters;
    not of /v1, whose routes take none and whose path must stay cheap.
    """
    items = request.query_params.multi_items()
    if len(items) != len(request.query_params):
        seen: set[str] = set()
        for name, _ in items:
            if name in seen:
                raise InvalidRequest(f"query parameter '{name}' is given more than once", name)
            seen.add(name)


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: Principal, what: str) -> None:
    """403 (Forbidden, in the route's dialect) unless the key is the admin password or an
    admin user's: `what` says what was asked, e.g. "pulling a model"."""
    if not principal.is_admin:
        raise Forbidden(f"{what} needs the admin password or an admin user's key")
