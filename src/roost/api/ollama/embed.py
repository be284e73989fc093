"""POST /api/embed (one or many texts, unit vectors, as Ollama's) and the older
POST /api/embeddings (one text, the model's vector as it comes)."""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import APIRouter

from roost.api import docs
from roost.api.deps import ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.api.ollama import convert, schemas
from roost.api.ollama.auth import PrincipalDep

router = APIRouter(tags=["ollama"], route_class=JsonBodyRoute)


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


@router.post(
    "/api/embed",
    response_model=None,
    responses={**docs.ok(schemas.EmbedResponse), **schemas.MODEL_FAILED},
)
async def embed(
    body: schemas.EmbedBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    started = time.perf_counter_ns()
    model, _ = convert.resolve(body.model, services.providers)
    texts = [body.input] if isinstance(body.input, str) else body.input
    _, result = await services.completions.embed(
        principal.user, model, texts, dimensions=body.dimensions
    )
    return {
        "model": body.model,
        "embeddings": [_unit(v) for v in result.vectors],
        "total_duration": time.perf_counter_ns() - started,
        "load_duration": 0,
        "prompt_eval_count": result.prompt_tokens,
    }


@router.post(
    "/api/embeddings",
    response_model=None,
    responses={**docs.ok(schemas.EmbeddingResponse), **schemas.MODEL_FAILED},
)
async def embeddings(
    body: schemas.EmbeddingsBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    model, _ = convert.resolve(body.model, services.providers)
    _, result = await services.completions.embed(principal.user, model, [body.prompt])
    return {"embedding": result.vectors[0]}
