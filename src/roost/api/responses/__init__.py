"""OpenAI's Responses API: /v1/responses."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["responses"])


def register_errors() -> None:
    """OpenAI's error object under /v1/responses."""


__all__ = ["register_errors", "router"]
