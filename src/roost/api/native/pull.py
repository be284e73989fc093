"""POST /api/models/pull and DELETE /api/models/{name} (admins): pull a GGUF from the
Hugging Face Hub into the model store, and remove a pulled model.

The pull answers as Ollama's `/api/pull` does: NDJSON status lines (`pulling manifest`,
`pulling <digest>` with `total`/`completed` bytes, `verifying sha256 digest`,
`writing manifest`, `success`), or with `"stream": false` one JSON object at the end. What
fails before the download starts (a bad name, an unknown repo or quantization, no network)
is a plain HTTP error; what fails later is an `{"error": ...}` line, as Ollama's is. A
client that hangs up stops following the pull; the last one to leave cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep, require_admin
from roost.api.errors import NativeError
from roost.api.json_route import JsonBodyRoute
from roost.api.ndjson import NdjsonStream, line
from roost.core.errors import Conflict, InvalidRequest, RoostError
from roost.services.pulls import PullProgress, PullWatch

router = APIRouter(tags=["native"], route_class=JsonBodyRoute)

MAX_NAME = 300  # the store's bound on a name to pull (providers/store/names.py)
T = TypeVar("T")


class PullBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = Field(
        None,
        min_length=1,
        max_length=MAX_NAME,
        description="hf.co/{owner}/{repo}:{quant} or {owner}/{repo}/{file}.gguf",
    )
    name: StrictStr | None = Field(
        None, min_length=1, max_length=MAX_NAME, description="The same, under Ollama's old name"
    )
    stream: StrictBool = Field(True, description="NDJSON progress lines; false: one answer")

    @property
    def pulled(self) -> str:
        name = self.model or self.name
        if not name:
            raise InvalidRequest("Missing required parameter: model (the name to pull)", "model")
        return name


class PullLine(BaseModel):
    """One line of the stream (Ollama's `/api/pull` statuses); the last is `success`, or
    `{"error": ...}` when the pull failed after it started."""

    status: str | None = None
    digest: str | None = None
    total: int | None = None
    completed: int | None = None
    name: str | None = Field(None, description="On `success`: the name the model has now")
    error: str | None = None


class Pulled(BaseModel):
    status: str
    name: str
    size: int = Field(description="Bytes on disk, every part")
    quantization: str | None


class Removed(BaseModel):
    name: str
    deleted: bool
    size: int


_FORBIDDEN: docs.Responses = {
    403: {"model": NativeError, "description": "The key is not an admin's"}
}
PULL_DOCS: docs.Responses = {
    200: {
        "model": Pulled,
        "description": "NDJSON progress lines (`stream`: true, the default), or one JSON "
        "object when the pull is done",
        "content": {
            "application/x-ndjson": {
                "schema": {"$ref": "#/components/schemas/PullLine"},
                "description": "One JSON object per line",
            }
        },
    },
    502: {"model": NativeError, "description": "The pull failed (its process died)"},
    **_FORBIDDEN,
}
docs.STREAM_MODELS.add(PullLine)


@router.post("/api/models/pull", response_model=None, responses=PULL_DOCS)
async def pull(
    body: PullBody, request: Request, services: ServicesDep, principal: PrincipalDep
) -> Response | dict[str, Any]:
    """Pull a model from the Hugging Face Hub (admins only)."""
    require_admin(principal, "pulling a model")
    watch = services.pulls.start(body.pulled)  # 400 for a bad name, 429 when too many run
    try:
        await watch.started()
        if body.stream:
            keepalive = services.settings.limits.sse_keepalive_seconds
            return NdjsonStream(_Lines(watch, keepalive))
        model = await _unless_gone(request, watch.result())
    except BaseException:
        watch.close()
        raise
    watch.close()
    return {
        "status": "success",
        "name": model.name,
        "size": model.size,
        "quantization": model.quantization,
    }


@router.delete(
    "/api/models/{name:path}",
    response_model=None,
    responses={**docs.ok(Removed), **_FORBIDDEN},
)
async def remove(
    name: Annotated[str, Path(min_length=1, max_length=MAX_NAME)],
    services: ServicesDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Delete a pulled model's files and stop its runner (admins only)."""
    require_admin(principal, "removing a model")
    gone = await services.pulls.remove(name)
    return {"name": gone.name, "deleted": True, "size": gone.size}


class _Lines:
    """The NDJSON lines of one follower; closing it (the client left) stops following."""

    def __init__(self, watch: PullWatch, keepalive: float) -> None:
        self._watch = watch
        self._keepalive = keepalive
        self._last = line({"status": "pulling manifest"})
        self._pending = [self._last]
        self._ended = False

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while not self._pending:
            if self._ended:
                await self.aclose()
                raise StopAsyncIteration
            await self._fill()
        self._last = self._pending.pop(0)
        return self._last

    async def _fill(self) -> None:
        try:
            event = await asyncio.wait_for(self._watch.next(), self._keepalive)
        except TimeoutError:  # quiet (verifying a large file): say the last line again
            self._pending.append(self._last)
            return
        except RoostError as exc:
            self._pending.append(line({"error": exc.message}))
            self._ended = True
            return
        if event is None:
            model = self._watch.model
            self._pending.append(
                line(_present({"status": "success", "name": model and model.name}))
            )
            self._ended = True
        else:
            self._pending.extend(line(p) for p in ollama_lines(event))

    async def aclose(self) -> None:
        self._watch.close()


def ollama_lines(event: PullProgress) -> list[dict[str, Any]]:
    """A pull's progress as Ollama's `/api/pull` statuses."""
    if event.status == "downloading":
        digest = event.digest or ""
        short = digest.removeprefix("sha256:")[:12] or (event.file or "")
        found = {"status": f"pulling {short}", "digest": event.digest}
        return [_present({**found, "total": event.total, "completed": event.completed})]
    if event.status == "verifying":
        return [_present({"status": "verifying sha256 digest", "digest": event.digest})]
    if event.status in ("writing", "success"):
        return [{"status": "writing manifest"}]
    return []  # resolving: the stream opened with "pulling manifest"


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


async def _unless_gone(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, cancelled if the client hangs up first (a `stream: false` pull
    must not outlive the only client that waits for it)."""
    task = asyncio.ensure_future(work)

    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(hung_up())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task.cancelled():  # nobody to answer; the pull stops unless others follow it
        raise Conflict("the client hung up before the pull ended")
    return await task
