"""MemGPT's admin routes (/admin/users, /admin/users/keys, /api/admin/agents) and
POST /api/auth, over roost's own users and keys (the same as `roost users`/`roost keys`).

Keys are listed by prefix and name, never by secret (roost keeps only a hash).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from roost.api import docs
from roost.api.deps import ServicesDep
from roost.api.memgpt.deps import AdminDep
from roost.api.memgpt.render import agent_summary
from roost.api.memgpt.schemas import (
    AgentList,
    AuthOut,
    KeyCreated,
    KeyDeleted,
    KeyList,
    MemGPTError,
    UserCreated,
    UserDeleted,
    UserList,
)
from roost.core.clock import isoformat
from roost.core.errors import InvalidRequest, Unauthorized
from roost.core.records import ApiKey

router = APIRouter(tags=["memgpt"])

KEY_NAME = "memgpt"


class CreateUserBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: StrictStr | None = Field(None, max_length=36)
    api_key_name: StrictStr | None = Field(None, max_length=200)


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: StrictStr = Field(max_length=200)
    name: StrictStr | None = Field(None, max_length=200)
    key_name: StrictStr | None = Field(None, max_length=200)  # what pymemgpt's Admin sends


class AuthBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    password: StrictStr = Field(min_length=1, max_length=1000)


def _uuid(value: str, param: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest(f"{param} must be a UUID", param=param) from None


def _key_out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": isoformat(key.created_at),
        "last_used_at": isoformat(key.last_used_at) if key.last_used_at else None,
    }


@router.get("/admin/users", response_model=None, responses=docs.ok(UserList))
async def list_users(
    services: ServicesDep,
    _: AdminDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    users = await services.users.list(after=cursor, limit=limit)
    listed = [
        {"user_id": u.id, "name": u.name, "created_at": isoformat(u.created_at)} for u in users
    ]
    return {"cursor": users[-1].id if users else None, "user_list": listed}


@router.post("/admin/users", response_model=None, responses=docs.ok(UserCreated))
async def create_user(
    services: ServicesDep,
    _: AdminDep,
    body: Annotated[CreateUserBody | None, Body()] = None,
) -> dict[str, Any]:
    body = body or CreateUserBody()
    user_id = _uuid(body.user_id, "user_id") if body.user_id else str(uuid.uuid4())
    # MemGPT users have no name; the id is one that cannot clash.
    user = await services.users.create(user_id, user_id=user_id)
    key = await services.users.create_key(user, body.api_key_name or KEY_NAME)
    return {"user_id": user.id, "api_key": key.secret}


@router.delete("/admin/users", response_model=None, responses=docs.ok(UserDeleted))
async def delete_user(
    services: ServicesDep, _: AdminDep, user_id: Annotated[str, Query(max_length=200)]
) -> dict[str, Any]:
    user = await services.users.delete(user_id)
    return {"message": "User successfully deleted.", "user_id_deleted": user.id}


@router.post("/admin/users/keys", response_model=None, responses=docs.ok(KeyCreated))
async def create_key(services: ServicesDep, _: AdminDep, body: CreateKeyBody) -> dict[str, Any]:
    user = await services.users.resolve(body.user_id)
    key = await services.users.create_key(user, body.name or body.key_name or KEY_NAME)
    return {"api_key": key.secret}


@router.get("/admin/users/keys", response_model=None, responses=docs.ok(KeyList))
async def list_keys(
    services: ServicesDep, _: AdminDep, user_id: Annotated[str, Query(max_length=200)]
) -> dict[str, Any]:
    user = await services.users.resolve(user_id)
    active = [k for k in await services.users.list_keys(user) if k.revoked_at is None]
    return {"api_key_list": [k.prefix for k in active], "keys": [_key_out(k) for k in active]}


@router.delete("/admin/users/keys", response_model=None, responses=docs.ok(KeyDeleted))
async def delete_key(
    services: ServicesDep,
    _: AdminDep,
    api_key: Annotated[str, Query(min_length=1, max_length=1000)],
) -> dict[str, Any]:
    key = await services.users.revoke_any(api_key)
    return {"message": "API key successfully deleted.", "api_key_deleted": key.prefix}


@router.get("/api/admin/agents", response_model=None, responses=docs.ok(AgentList))
async def list_all_agents(services: ServicesDep, _: AdminDep) -> dict[str, Any]:
    views = await services.agents.list(None)
    return {"num_agents": len(views), "agents": [agent_summary(v) for v in views]}


@router.post(
    "/api/auth",
    response_model=None,
    responses={
        **docs.ok(AuthOut),
        401: {"model": MemGPTError, "description": "Not the password or a valid API key"},
    },
)
async def authenticate(request: Request, services: ServicesDep, body: AuthBody) -> dict[str, Any]:
    client = request.client  # a password guess here is a failure like any other
    try:
        principal = await services.auth.authenticate(
            body.password, loopback=False, address=client.host if client else ""
        )
    except Unauthorized:
        raise Unauthorized("Authentication error: the password or API key is not valid") from None
    return {"uuid": principal.user.id, "is_admin": principal.via == "password"}
