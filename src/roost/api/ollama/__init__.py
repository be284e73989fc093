"""Ollama's API under /ollama on the main port (and at the root of the [ollama] listener)."""

from fastapi import APIRouter

PREFIX = "/ollama"
router = APIRouter(prefix=PREFIX, tags=["ollama"])


def register_errors() -> None:
    """Ollama's `{"error": "..."}` for every path under /ollama (filled in by the dialect)."""


__all__ = ["PREFIX", "register_errors", "router"]
