"""The memory API of seed 000: search, stats, reindex, and workspace files."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.api.native.schemas import FileWritten
from roost.core.clock import isoformat
from roost.services.memory.indexer import ReindexResult
from roost.services.memory.stats import MemoryStats

router = APIRouter(prefix="/api/memory", tags=["native"], route_class=JsonBodyRoute)

# A query must fit in a URL the HTTP server accepts (~64 KB): 4,000 characters is 48 KB
# even if each is 4 UTF-8 bytes, percent-encoded. (10,000 was a 400 from uvicorn itself.)
MAX_QUERY = 4_000
MAX_FILE_CHARS = 1_048_576


class MemoryHitOut(BaseModel):
    file: str
    content: str
    score: float
    line_start: int
    line_end: int


class SearchOut(BaseModel):
    query: str
    results: list[MemoryHitOut]
    total: int


class FileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: StrictStr = Field(max_length=MAX_FILE_CHARS)


@router.get("/search")
async def search(
    services: ServicesDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description="Search query")],
    limit: Annotated[int, Query(ge=1, le=100, description="Max results")] = 10,
) -> SearchOut:
    hits = await services.memory.search(principal.user, q, limit)
    results = [MemoryHitOut(**asdict(hit)) for hit in hits]
    return SearchOut(query=q, results=results, total=len(results))


@router.get("/stats", response_model=None, responses=docs.ok(MemoryStats))
async def stats(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    found = asdict(await services.memory.stats(principal.user))
    last = found["index"]["last_indexed"]
    found["index"]["last_indexed"] = isoformat(last) if last is not None else None
    return found


@router.post("/reindex", response_model=None, responses=docs.ok(ReindexResult))
async def reindex(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    result = await services.memory.reindex(principal.user, force=True)
    return asdict(result)


# `:path` so nested files (memory/2026-11-26.md) are one parameter; the service confines it.
@router.get("/files/{path:path}", response_class=PlainTextResponse)
async def read_file(path: str, services: ServicesDep, principal: PrincipalDep) -> str:
    return await services.memory.read_file(principal.user, path)


@router.put("/files/{path:path}")
async def write_file(
    path: str, body: FileBody, services: ServicesDep, principal: PrincipalDep
) -> FileWritten:
    await services.memory.write_file(principal.user, path, body.content)
    return FileWritten(path=path, size_bytes=len(body.content.encode("utf-8")))
