"""kernel2 roles: CRUD on the system prompts that chat selects with `metadata.role_id`.

Owner-scoped: another user's role id answers 404. Success bodies use Second-Me's envelope
`{"code": 0, "message": "success", "data": ...}` plus `"success": true`, the mirror of the
seed's error shape, so a client may test either field.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from roost.api.deps import PrincipalDep, ServicesDep
from roost.core.clock import isoformat
from roost.core.records import Role

router = APIRouter(prefix="/api/kernel2/roles", tags=["kernel2"])

T = TypeVar("T")


# The service validates again (names after stripping); these bounds keep oversized input
# from reaching it at all.
class RoleCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1, max_length=100)
    description: StrictStr | None = Field(None, max_length=1_000)
    system_prompt: StrictStr = Field(min_length=1, max_length=20_000)
    enable_l0_retrieval: StrictBool = False
    enable_l1_retrieval: StrictBool = False


class RoleUpdateBody(BaseModel):
    """A partial update: a field that is absent (or null) keeps its value."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(None, min_length=1, max_length=100)
    description: StrictStr | None = Field(None, max_length=1_000)
    system_prompt: StrictStr | None = Field(None, min_length=1, max_length=20_000)
    enable_l0_retrieval: StrictBool | None = None
    enable_l1_retrieval: StrictBool | None = None


class RoleOut(BaseModel):
    id: str
    name: str
    description: str
    system_prompt: str
    enable_l0_retrieval: bool
    enable_l1_retrieval: bool
    created_at: str
    updated_at: str


class RoleList(BaseModel):
    roles: list[RoleOut]
    total: int


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    code: int = 0
    message: str = "success"
    data: T


def role_out(role: Role) -> RoleOut:
    return RoleOut(
        id=role.id,
        name=role.name,
        description=role.description,
        system_prompt=role.system_prompt,
        enable_l0_retrieval=role.enable_l0_retrieval,
        enable_l1_retrieval=role.enable_l1_retrieval,
        created_at=isoformat(role.created_at),
        updated_at=isoformat(role.updated_at),
    )


@router.get("")
async def list_roles(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Envelope[RoleList]:
    page, total = await services.roles.list(principal.user, limit=limit, offset=offset)
    return Envelope(data=RoleList(roles=[role_out(r) for r in page], total=total))


@router.post("", status_code=201)
async def create_role(
    body: RoleCreateBody, services: ServicesDep, principal: PrincipalDep
) -> Envelope[RoleOut]:
    role = await services.roles.create(
        principal.user,
        name=body.name,
        description=body.description or "",
        system_prompt=body.system_prompt,
        enable_l0_retrieval=body.enable_l0_retrieval,
        enable_l1_retrieval=body.enable_l1_retrieval,
    )
    return Envelope(data=role_out(role))


@router.get("/{role_id}")
async def get_role(
    role_id: str, services: ServicesDep, principal: PrincipalDep
) -> Envelope[RoleOut]:
    return Envelope(data=role_out(await services.roles.get(principal.user, role_id)))


@router.put("/{role_id}")
async def update_role(
    role_id: str, body: RoleUpdateBody, services: ServicesDep, principal: PrincipalDep
) -> Envelope[RoleOut]:
    role = await services.roles.update(
        principal.user,
        role_id,
        name=body.name,
        description=body.description,
        system_prompt=body.system_prompt,
        enable_l0_retrieval=body.enable_l0_retrieval,
        enable_l1_retrieval=body.enable_l1_retrieval,
    )
    return Envelope(data=role_out(role))


@router.delete("/{role_id}")
async def delete_role(
    role_id: str, services: ServicesDep, principal: PrincipalDep
) -> Envelope[None]:
    await services.roles.delete(principal.user, role_id)
    return Envelope(data=None)
