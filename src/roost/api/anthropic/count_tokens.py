"""POST /v1/messages/count_tokens: the tokens a Messages request's prompt takes.

Counted by the model's own tokenizer and chat template for models roost runs (the model
is loaded to count); remote models give an estimate (CompletionService.count_tokens).
"""

from __future__ import annotations

from fastapi import APIRouter

from roost.api import docs
from roost.api.anthropic import convert
from roost.api.anthropic.schemas import CountTokensBody
from roost.api.anthropic.wire import AnthropicTokenCount
from roost.api.deps import PrincipalDep, ServicesDep

router = APIRouter(tags=["anthropic"])


@router.post("/messages/count_tokens", response_model=None, responses=docs.ok(AnthropicTokenCount))
async def count_tokens(
    body: CountTokensBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, int]:
    request = convert.completion_request(body)
    _, count = await services.completions.count_tokens(principal.user, request)
    return {"input_tokens": count}
