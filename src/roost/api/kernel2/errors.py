"""kernel2's error shape, from the Second-Me seed: `{"success": false, "message", "code"}`.

`code` is the HTTP status as an int, not roost's string code: that is what the seed shows
and what Second-Me clients read.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api import errors
from roost.api.kernel2.schemas import Kernel2Error

PREFIX = "/api/kernel2"


def render_kernel2(error: errors.ApiError) -> Response:
    body = {"success": False, "message": error.message, "code": error.status}
    return JSONResponse(body, status_code=error.status)


def register() -> None:
    """Make errors under /api/kernel2 use this shape; create_app calls it (again is a no-op)."""
    errors.register_renderer(PREFIX, render_kernel2)
    errors.document(render_kernel2, Kernel2Error)
