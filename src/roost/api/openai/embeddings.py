"""POST /v1/embeddings, with float or base64 (the SDK's default) encoding."""

from __future__ import annotations

import base64
import struct
from typing import Any

from fastapi import APIRouter

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.openai.schemas import EmbeddingBody, EmbeddingList

router = APIRouter(tags=["openai"])


def _base64(vector: list[float]) -> str:
    # Little-endian float32, as OpenAI encodes it and the SDK decodes it with numpy.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


@router.post("/embeddings", response_model=None, responses=docs.ok(EmbeddingList))
async def embeddings(
    body: EmbeddingBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    model, result = await services.completions.embed(
        principal.user, body.model, texts, dimensions=body.dimensions
    )
    encode = _base64 if body.encoding_format == "base64" else (lambda v: v)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(vector)}
            for i, vector in enumerate(result.vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }
