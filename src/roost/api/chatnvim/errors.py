"""chat.nvim's error shape: `{"error": "<message>"}`, and 404 for a method nobody serves.

chat.nvim answers any method or path it does not route with 404, never 405; its clients
look only at the status, and the message says what was wrong.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api import errors
from roost.api.chatnvim.schemas import ChatNvimError

ROOT = "/"  # POST / only: a browser UI may serve GET / with its own errors
PREFIXES = ("/sessions", "/session")


def render_chatnvim(error: errors.ApiError) -> Response:
    if error.status == 405:
        return JSONResponse({"error": "not found"}, status_code=404)
    return JSONResponse({"error": error.message}, status_code=error.status)


def register() -> None:
    """Make errors on chat.nvim's routes use this shape; create_app calls it."""
    errors.register_path_renderer(ROOT, render_chatnvim)
    errors.document(render_chatnvim, ChatNvimError)
    for prefix in PREFIXES:
        errors.register_renderer(prefix, render_chatnvim)
