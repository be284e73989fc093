"""Second-Me's kernel2 API (seed 001) under /api/kernel2: roles, and the chat that uses them."""

from fastapi import APIRouter

from roost.api.kernel2 import chat, roles
from roost.api.kernel2.errors import register as register_errors

router = APIRouter()
router.include_router(chat.router)
router.include_router(roles.router)

__all__ = ["register_errors", "router"]
