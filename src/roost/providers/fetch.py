"""Fetching a web page for the web_fetch tool, with the address rules applied on every hop.

The host is resolved once per hop, every address it resolves to is checked, and the
connection goes to a checked address (a resolver pinned to them), while the request
carries the original Host header and TLS name: a DNS answer that changes between the check
and the connection (DNS rebinding) cannot redirect it. Redirects are followed here, one
checked hop at a time. Environment proxies are not used (they would bypass the check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from roost.core.errors import RoostError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]

MAX_REDIRECTS = 5
MAX_URL_CHARS = 2_048
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "roost-web-fetch/0.1"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5"
READ_BYTES = 65_536


class FetchError(RoostError):
    """A fetch that was refused (bad URL, private address) or failed (network, timeout)."""

    code = "fetch_error"


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # after redirects
    status: int
    content_type: str  # media type, lower case, without parameters ("" when not sent)
    charset: str | None
    body: bytes  # at most max_bytes
    truncated: bool  # the body went on past max_bytes


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (what web_fetch may reach by default)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:  # an IPv4 address in IPv6 clothing: judge the IPv4 one
            return is_public(embedded)
        if address.teredo is not None or address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    found: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
    if not found:
        raise FetchError(f"cannot resolve {host}: no addresses")
    return found


class _Pinned(AbstractResolver):
    """Answers for one host with the addresses already checked, and nothing else."""

    def __init__(self, host: str, addresses: list[IPAddress]) -> None:
        self._host = host
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._host:  # cannot happen: one session per hop, no proxies
            raise OSError(f"unexpected host {host}")
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in self._addresses
        ]

    async def close(self) -> None:
        pass


class WebFetcher:
    """GETs http(s) pages for web_fetch; `resolve`, `is_allowed` and `ssl_context` are
    there for tests (a fake DNS name, a stricter rule, a test CA)."""

    def __init__(
        self,
        *,
        resolve: Resolve = resolve_host,
        is_allowed: Callable[[IPAddress], bool] = is_public,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._resolve = resolve
        self._is_allowed = is_allowed
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True

    async def fetch(
        self, url: str, *, allow_private: bool, time_limit: float, max_bytes: int
    ) -> FetchedPage:
        """GET `url`, following up to 5 redirects, each checked like the first."""
        try:
            async with asyncio.timeout(time_limit):
                target = _parse(url)
                for _ in range(MAX_REDIRECTS + 1):
                    page, location = await self._hop(target, allow_private, max_bytes)
                    if location is None:
                        return page
                    target = _follow(target, location)
                raise FetchError(f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError:
            raise FetchError(f"no complete answer within {time_limit:g} s") from None

    async def _hop(
        self, url: URL, allow_private: bool, max_bytes: int
    ) -> tuple[FetchedPage, str | None]:
        host = url.raw_host
        port = url.port
        assert host is not None
        assert port is not None
        addresses = await self._resolve(host, port)
        if not allow_private:
            for address in addresses:
                if not self._is_allowed(address):
                    name = "" if _is_literal(host) else f"{url.host} resolves to "
                    raise FetchError(
                        f"{name}{address} is a private, loopback or otherwise non-public "
                        "address; web_fetch only reaches the public internet"
                    )
        connector = aiohttp.TCPConnector(
            resolver=_Pinned(host, addresses), use_dns_cache=False, ssl=self._ssl, force_close=True
        )
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        try:
            async with (
                aiohttp.ClientSession(connector=connector, trust_env=False) as session,
                session.get(url, headers=headers, allow_redirects=False) as response,
            ):
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    return _page(url, response, b"", truncated=False), location
                body = await _read(response, max_bytes)
                truncated = len(body) > max_bytes
                return _page(url, response, body[:max_bytes], truncated), None
        except aiohttp.ClientError as exc:
            raise FetchError(f"could not fetch {url.host}: {exc}") from None


def _parse(url: str, *, redirect: bool = False) -> URL:
    what = "redirect target" if redirect else "url"
    if len(url) > MAX_URL_CHARS:
        raise FetchError(f"{what} is longer than {MAX_URL_CHARS} characters")
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise FetchError(f"{what} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"{what} must be an http or https URL, not {url[:100]!r}")
    if not parsed.raw_host or parsed.port is None:
        raise FetchError(f"{what} has no host")
    if parsed.user is not None or parsed.password is not None:
        raise FetchError(f"{what} must not carry a user name or password")
    return parsed.with_fragment(None)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _follow(current: URL, location: str) -> URL:
    try:
        joined = str(current.join(URL(location[: MAX_URL_CHARS + 1])))
    except ValueError as exc:
        raise FetchError(f"redirect target is not a valid URL: {exc}") from None
    return _parse(joined, redirect=True)


async def _read(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """At most max_bytes + 1 bytes (the extra one tells that there was more)."""
    parts: list[bytes] = []
    size = 0
    while size <= max_bytes:
        data = await response.content.read(min(READ_BYTES, max_bytes + 1 - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def _page(url: URL, response: aiohttp.ClientResponse, body: bytes, truncated: bool) -> FetchedPage:
    content_type = response.headers.get("Content-Type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        charset = response.charset
    except (ValueError, LookupError):
        charset = None
    return FetchedPage(str(url), response.status, media, charset, body, truncated)
