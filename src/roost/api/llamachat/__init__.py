"""LlamaChat's consumer API (seed 004): conversations and transcription under /api."""

from fastapi import APIRouter

from roost.api.llamachat import conversations, transcription
from roost.api.llamachat.errors import register as register_errors

router = APIRouter()
router.include_router(conversations.router)
router.include_router(transcription.router)

__all__ = ["register_errors", "router"]
