"""roost's own API, LocalGPT's HTTP API (seed 000): /health, /api/status, chat, sessions."""

from fastapi import APIRouter

from roost.api.native import (
    approvals,
    chat,
    heartbeat,
    memory,
    models,
    ps,
    pull,
    search,
    sessions,
    status,
    streams,
    ws,
)

router = APIRouter()
router.include_router(status.router)
router.include_router(chat.router)
router.include_router(sessions.router)
router.include_router(models.router)
router.include_router(pull.router)
router.include_router(ps.router)
router.include_router(memory.router)
router.include_router(approvals.router)
router.include_router(heartbeat.router)
router.include_router(ws.router)
router.include_router(search.router)
router.include_router(streams.router)

__all__ = ["router"]
