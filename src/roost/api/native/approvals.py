"""Tool-call approvals: list the caller's pending ones, approve or deny one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictBool

from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.core.clock import isoformat
from roost.services.approvals import Approval

router = APIRouter(prefix="/api/approvals", tags=["native"], route_class=JsonBodyRoute)


class ApprovalOut(BaseModel):
    id: str
    session_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]
    created_at: str
    expires_at: str


class ApprovalList(BaseModel):
    approvals: list[ApprovalOut]


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: StrictBool


class ApprovalDecision(BaseModel):
    id: str
    approved: bool


def _when(timestamp: float) -> str:
    return isoformat(datetime.fromtimestamp(timestamp, UTC))


def _out(approval: Approval) -> ApprovalOut:
    return ApprovalOut(
        id=approval.id,
        session_id=approval.conversation_id,
        call_id=approval.call_id,
        name=approval.name,
        arguments=approval.arguments,
        created_at=_when(approval.created),
        expires_at=_when(approval.expires),
    )


@router.get("")
async def list_approvals(services: ServicesDep, principal: PrincipalDep) -> ApprovalList:
    return ApprovalList(
        approvals=[_out(a) for a in await services.approvals.pending(principal.user)]
    )


@router.post("/{approval_id}")
async def answer_approval(
    approval_id: str, body: ApprovalAnswer, services: ServicesDep, principal: PrincipalDep
) -> ApprovalDecision:
    approval = await services.approvals.answer(principal.user, approval_id, body.approve)
    return ApprovalDecision(id=approval.id, approved=body.approve)
