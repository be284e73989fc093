"""Ollama's API under /ollama on the main port (and at the root of the [ollama] listener)."""

from fastapi import APIRouter

from roost.api.ollama import chat, embed, errors, models, pull, root

PREFIX = "/ollama"
router = APIRouter(prefix=PREFIX, tags=["ollama"])
router.include_router(root.router)
router.include_router(models.router)
router.include_router(embed.router)
router.include_router(pull.router)
register_errors = errors.register
chat_routes = chat.routes  # plain ASGI, matched before every router (see roost.app)
described = chat.described  # their declarations, for /openapi.json only
AtRoot = root.AtRoot

__all__ = ["PREFIX", "AtRoot", "chat_routes", "described", "register_errors", "router"]
