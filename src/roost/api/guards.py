"""ASGI guards that run before routing: the Host check and the cross-site write check.
(The request body's bounds are in api/bodies.py.)"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from roost.api.errors import ApiError, render

WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


# RFC 9110 Host: a bracketed IPv6 literal or a name of letters, digits, dots and hyphens,
# then an optional port of digits. Nothing else: no userinfo, path, space or stray text.
_HOST = re.compile(r"(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::([0-9]{1,5}))?")


def parse_host(raw: str) -> str | None:
    """The host part of a Host header, lowercased, without port or IPv6 brackets; None
    when the header is not a well-formed host (`[::1]evil.com`, `a:b:c`, `::1`...)."""
    match = _HOST.fullmatch(raw.lower())
    if match is None or (match[3] is not None and int(match[3]) > 65535):
        return None
    if match[1] is None:
        return match[2]
    try:
        return str(ipaddress.IPv6Address(match[1]))
    except ValueError:
        return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HostGuard:
    """Refuse requests whose Host is not ours: a DNS-rebinding page cannot reach us.

    On a loopback bind only loopback names are ours. On a wildcard bind, IP literals are
    accepted too (any of the machine's addresses); DNS names must be configured.

    Also refuse cross-site writes (CSRF): a page on another site can make a browser send a
    "simple" POST (a form, text/plain) that needs no preflight, and with `[auth] required
    = false` it would need no key either. Browsers mark such requests with `Origin` (and
    `Sec-Fetch-Site`); a write from an origin that is neither this server nor one of
    `cors_origins` is refused. Clients that are not browsers send neither header.
    """

    def __init__(
        self, app: ASGIApp, bind: str, extra: Iterable[str], origins: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.allowed = {"localhost", "127.0.0.1", "::1", bind.lower()} | {h.lower() for h in extra}
        self.allow_ips = bind in WILDCARD_BINDS
        self.origins = {o.strip().rstrip("/").lower() for o in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw_host = origin = fetch_site = ""
            hosts = 0
            for name, value in scope.get("headers", []):
                if name == b"host":
                    raw_host = value.decode("latin-1")
                    hosts += 1
                elif name == b"origin":
                    origin = value.decode("latin-1")
                elif name == b"sec-fetch-site":
                    fetch_site = value.decode("latin-1")
            refusal = self._host_refusal(raw_host, hosts)
            if refusal is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                error = ApiError(400, "invalid_request", refusal)
                await render(scope["path"], error)(scope, receive, send)
                return
            if (
                (origin or fetch_site)
                and scope["type"] == "http"
                and scope["method"] not in SAFE_METHODS
                and not self._same_site(origin, fetch_site, raw_host)
            ):
                error = ApiError(403, "forbidden", "cross-site request refused (CSRF)")
                await render(scope["path"], error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _host_refusal(self, raw_host: str, count: int) -> str | None:
        """Why the Host is refused, or None. Two Host headers are ambiguous (servers and
        proxies disagree on which counts): refused, whatever they say."""
        if count > 1:
            return f"the request has {count} Host headers; send one"
        if not raw_host:
            return None  # HTTP/1.0 clients may send none
        host = parse_host(raw_host)
        if host is None:
            shown = raw_host[:100].encode("ascii", "backslashreplace").decode()
            return f"Host header '{shown}' is not a valid host[:port]"
        if host not in self.allowed and not (self.allow_ips and _is_ip(host)):
            return f"host '{host}' is not allowed"
        return None

    def _same_site(self, origin: str, fetch_site: str, raw_host: str) -> bool:
        if origin:
            origin = origin.strip().rstrip("/").lower()
            if origin in self.origins or "*" in self.origins:
                return True
            return urlsplit(origin).netloc == raw_host.strip().lower()
        return fetch_site.lower() in ("same-origin", "none")  # "none": typed by the user
