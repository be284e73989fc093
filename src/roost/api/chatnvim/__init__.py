"""chat.nvim's HTTP API (seed 003): POST / into a durable inbox, /sessions, /session preview."""

from fastapi import APIRouter

from roost.api.chatnvim import inbox, queue, sessions
from roost.api.chatnvim.errors import register as register_errors

router = APIRouter()
router.include_router(inbox.router)
router.include_router(sessions.router)
router.include_router(queue.router)

__all__ = ["register_errors", "router"]
