"""The one reading of a request's credential: authentication and the limiters both ask here.

A key may come as `Authorization: Bearer <key>`, as `X-API-Key: <key>` (header names are
case-insensitive) or, on a WebSocket only, as the query parameter `token` (browsers cannot
set headers on one). A request that carries more than one is ambiguous: two
`Authorization` or two `X-API-Key` headers, two `token` parameters, or carriers that
disagree (a Bearer and an X-API-Key, a header and a `token`, with different values). Such
a request is refused with 400 (`InvalidRequest`), whichever part would have read it, so
no reader can pick one credential while another picks a different one. The same key sent
the same way twice over different carriers is one credential.

The answer is kept in the ASGI scope: the rate limiter reads it first, then the route's
authentication reads the same answer.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection
from starlette.types import Scope

from roost.core.errors import InvalidRequest

SCOPE_KEY: Final = "roost.credential"
QUERY_NAME: Final = "token"  # the WebSocket's ?token=


def _read(scope: Scope) -> str | None:
    found: dict[str, str] = {}  # carrier -> value
    authorization = api_key = 0
    for name, value in scope.get("headers", ()):
        name = name.lower()  # servers lower-case them; an app called directly may not
        if name == b"authorization":
            authorization += 1
            scheme, _, rest = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and rest.strip():
                found["Authorization: Bearer"] = rest.strip().decode("latin-1")
        elif name == b"x-api-key":
            api_key += 1
            if value.strip():
                found["X-API-Key"] = value.strip().decode("latin-1")
    if authorization > 1:
        raise InvalidRequest("more than one Authorization header: send one credential")
    if api_key > 1:
        raise InvalidRequest("more than one X-API-Key header: send one credential")
    if scope["type"] == "websocket" and scope.get("query_string"):
        # Decoded as Starlette decodes it (`?%74oken=` is `token`).
        query = scope["query_string"].decode("latin-1")
        tokens = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == QUERY_NAME]
        if len(tokens) > 1:
            raise InvalidRequest("more than one 'token' query parameter: send one credential")
        if tokens and tokens[0]:
            found["?token="] = tokens[0]
    values = set(found.values())
    if len(values) > 1:
        carriers = " and ".join(found)
        raise InvalidRequest(f"two different credentials ({carriers}): send one")
    return values.pop() if values else None


def credential(scope: Scope) -> str | None:
    """The key the request presents, or None; InvalidRequest if it presents more than one."""
    kept = scope.get(SCOPE_KEY)
    if kept is None:
        try:
            kept = scope[SCOPE_KEY] = (_read(scope),)
        except InvalidRequest as exc:
            kept = scope[SCOPE_KEY] = exc
    if isinstance(kept, InvalidRequest):
        raise InvalidRequest(kept.message)  # a fresh exception: a raised one keeps a traceback
    value: str | None = kept[0]
    return value


def presented_key(conn: HTTPConnection) -> str | None:
    return credential(conn.scope)
