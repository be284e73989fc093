"""OpenAI's Responses API: /v1/responses."""

from fastapi import APIRouter

from roost.api.responses import create, errors, stored

router = APIRouter(prefix="/v1", tags=["responses"])
router.include_router(create.router)
router.include_router(stored.router)
register_errors = errors.register

__all__ = ["register_errors", "router"]
