"""Routes whose JSON body is read as JSON whatever its declared Content-Type.

`curl -d '{...}'` without `-H "Content-Type: application/json"` labels the body a form;
FastAPI would then validate the raw bytes ("Input should be a valid dictionary ...").
roost's own API reads it as the JSON it is, as the chat.nvim and LlamaChat routes do; a
body that is not JSON gets the usual "request body is not valid JSON" 400. Cross-site
forms cannot use this: HostGuard refuses writes from other origins (CSRF).

Routes that take a form (uploads) are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

_JSON = (b"content-type", b"application/json")


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        if field is None or isinstance(field.field_info, params.Form):
            return handler

        async def read_as_json(request: Request) -> Response:
            headers = request.scope["headers"]
            declared = [v for k, v in headers if k == b"content-type"]
            if not declared or not _is_json(declared[0]):
                request.scope["headers"] = [(k, v) for k, v in headers if k != b"content-type"] + [
                    _JSON
                ]
                request = Request(request.scope, request.receive)
            return await handler(request)

        return read_as_json


def _is_json(value: bytes) -> bool:
    kind = value.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )
