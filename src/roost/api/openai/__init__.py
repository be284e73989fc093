"""The OpenAI API at /v1: models, chat completions, embeddings, audio transcriptions."""

from fastapi import APIRouter

from roost.api.openai import audio, chat, embeddings, errors, models

router = APIRouter(prefix="/v1")
router.include_router(chat.router)  # first: the most frequent, see roost.app
router.include_router(models.router)
router.include_router(embeddings.router)
router.include_router(audio.router)
register_errors = errors.register

__all__ = ["register_errors", "router"]
