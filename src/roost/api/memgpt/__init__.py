"""MemGPT 0.3's server API (seed 002): admin, users and keys, agents with memory."""

from fastapi import APIRouter

from roost.api.memgpt import admin, agents, library, messages
from roost.api.memgpt.errors import register as register_errors

router = APIRouter()
router.include_router(admin.router)
router.include_router(agents.router)
router.include_router(messages.router)
router.include_router(library.router)

__all__ = ["register_errors", "router"]
