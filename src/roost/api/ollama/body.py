"""An Ollama request body: JSON whatever the Content-Type says (Ollama reads it so, and
`curl -d` sends form's type), bounded in depth, with Ollama's own 400s."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from roost.api import bodies
from roost.core.errors import InvalidRequest


async def read(request: Request, max_depth: int) -> Any:
    raw = await request.body()  # the body bound's 413 comes from here
    if not raw.strip():
        raise InvalidRequest("missing request body")
    try:
        return bodies.loads(raw.decode(), max_depth)
    except bodies.TooDeep as exc:
        raise InvalidRequest(str(exc)) from None
    except ValueError:  # not JSON, not UTF-8
        raise InvalidRequest("request body is not valid JSON") from None
