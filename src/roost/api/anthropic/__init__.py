"""Anthropic's Messages API: POST /v1/messages and /v1/messages/count_tokens (and the
Anthropic shape of GET /v1/models, which api/openai/models.py hands to models.py)."""

from fastapi import APIRouter

from roost.api.anthropic import count_tokens, errors, messages

router = APIRouter(prefix="/v1", tags=["anthropic"])
router.include_router(count_tokens.router)
register_errors = errors.register
messages_route = messages.route  # plain ASGI, matched before every router (see roost.app)
described = messages.described  # its declaration, for /openapi.json only

__all__ = ["described", "messages_route", "register_errors", "router"]
