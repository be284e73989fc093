"""The OpenAI API at /v1: models, chat completions, embeddings, audio transcriptions."""

from fastapi import APIRouter

from roost.api.openai import audio, chat, embeddings, errors, models

router = APIRouter(prefix="/v1")
router.include_router(models.router)
router.include_router(embeddings.router)
router.include_router(audio.router)
register_errors = errors.register
chat_route = chat.route  # plain ASGI, matched before every router (see roost.app)
described = chat.described  # its declaration, for /openapi.json only

__all__ = ["chat_route", "described", "register_errors", "router"]
