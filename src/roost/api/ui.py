"""The browser chat UI: `GET /` and `GET /ui/{file}`, plain files from roost/web/static.

No build step and no third-party origin: the page may only load what this server
serves (the Content-Security-Policy says so to the browser, too). `POST /` stays the
chat.nvim inbox; this router only answers GET and HEAD.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request, Response

from roost.core.errors import NotFound

router = APIRouter(tags=["ui"])

# 'self' also covers ws:// and wss:// on this origin for connect-src (CSP level 3).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# Flat file names only: nothing that could climb out of the static folder.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(html|js|css|svg|json)$")


@lru_cache(maxsize=64)
def _load(name: str) -> tuple[bytes, str] | None:
    """The file's bytes and a strong ETag; read once per process (the files ship with it)."""
    file = resources.files("roost.web").joinpath("static", name)
    if not file.is_file():
        return None
    body = file.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _serve(request: Request, name: str) -> Response:
    found = _load(name) if _NAME.match(name) else None
    if found is None:
        raise NotFound(f"'{request.url.path}' not found")
    body, etag = found
    headers = {
        "ETag": etag,
        # Not fingerprinted, so revalidate every time: an upgrade shows at the next load,
        # and an unchanged file costs a 304 with no body.
        "Cache-Control": "no-cache",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    media_type = TYPES[name[name.rindex(".") :]]
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    content = b"" if request.method == "HEAD" else body
    headers["Content-Length"] = str(len(body))
    return Response(content, media_type=media_type, headers=headers)


def _files(media_types: list[str]) -> dict[int | str, dict[str, Any]]:
    """The documented answers: the file (HEAD: its headers only), or 304 for a current ETag."""
    content = {t: {"schema": {"type": "string"}} for t in media_types}
    return {
        200: {"description": "The file", "content": content},
        304: {"description": "Not modified (If-None-Match had the current ETag)"},
    }


_INDEX = _files([TYPES[".html"]])
_ASSET = _files(sorted(set(TYPES.values())))


# GET and HEAD are separate routes so that each has its own OpenAPI operation id.
@router.head("/", response_class=Response, responses=_INDEX)
@router.get("/", response_class=Response, responses=_INDEX)
async def index(request: Request) -> Response:
    return _serve(request, "index.html")


@router.head("/ui", response_class=Response, responses=_INDEX)
@router.get("/ui", response_class=Response, responses=_INDEX)
@router.head("/ui/", response_class=Response, responses=_INDEX)
@router.get("/ui/", response_class=Response, responses=_INDEX)
async def ui_index(request: Request) -> Response:
    return _serve(request, "index.html")


@router.head("/ui/{name}", response_class=Response, responses=_ASSET)
@router.get("/ui/{name}", response_class=Response, responses=_ASSET)
async def asset(request: Request, name: str) -> Response:
    return _serve(request, name)
