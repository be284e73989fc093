"""POST /api/pull (admins): roost's model pull (the Hugging Face Hub into the model
store), answered with Ollama's statuses by the native route it shares (api/native/pull.py).

Ollama's library names (`llama3.2`) are not on the Hub: the names roost pulls are
`hf.co/{owner}/{repo}:{quant}` (which Ollama pulls too) and `{owner}/{repo}/{file}.gguf`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from roost.api import docs
from roost.api.deps import ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.api.native import pull as native
from roost.api.ollama.auth import PrincipalDep
from roost.api.ollama.schemas import OllamaError

router = APIRouter(tags=["ollama"], route_class=JsonBodyRoute)
# The native route's answers, with this dialect's error body.
_DOCS: docs.Responses = {
    **native.PULL_DOCS,
    403: {"model": OllamaError, "description": "The key is not an admin's"},
    502: {"model": OllamaError, "description": "The pull failed (its process died)"},
}


@router.post("/api/pull", response_model=None, responses=_DOCS)
async def pull(
    body: native.PullBody, request: Request, services: ServicesDep, principal: PrincipalDep
) -> Response | dict[str, Any]:
    """Pull a model from the Hugging Face Hub (admins only)."""
    return await native.pull(body, request, services, principal)
