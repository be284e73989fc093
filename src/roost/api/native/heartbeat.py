"""GET /api/heartbeat/status and POST /api/heartbeat/run, for the caller's own heartbeat."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from roost.api.deps import PrincipalDep, ServicesDep
from roost.core.clock import isoformat
from roost.services.heartbeat import HeartbeatEvent

router = APIRouter(prefix="/api/heartbeat", tags=["native"])


class EventOut(BaseModel):
    status: str  # ran | ok | skipped | failed
    reason: str | None
    started_at: str
    duration_ms: int
    session_id: str | None = None
    response: str | None = None


class StatusOut(BaseModel):
    enabled: bool
    interval_seconds: float
    last_run: str | None
    next_run: str | None
    last_event: EventOut | None


def _when(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def event_out(event: HeartbeatEvent) -> EventOut:
    return EventOut(
        status=event.status,
        reason=event.reason,
        started_at=isoformat(event.started_at),
        duration_ms=event.duration_ms,
        session_id=event.session_id,
        response=event.response,
    )


@router.get("/status")
async def heartbeat_status(services: ServicesDep, principal: PrincipalDep) -> StatusOut:
    report = services.heartbeat.report(principal.user)
    last = report.last_event
    return StatusOut(
        enabled=report.enabled,
        interval_seconds=report.interval_seconds,
        last_run=_when(report.last_run),
        next_run=_when(report.next_run),
        last_event=event_out(last) if last is not None else None,
    )


@router.post("/run")
async def heartbeat_run(services: ServicesDep, principal: PrincipalDep) -> EventOut:
    return event_out(await services.heartbeat.tick(principal.user, manual=True))
