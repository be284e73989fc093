"""Anthropic's Messages API: POST /v1/messages and /v1/messages/count_tokens."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["anthropic"])


def register_errors() -> None:
    """Anthropic's `{"type": "error", "error": {...}}` under /v1/messages."""


__all__ = ["register_errors", "router"]
