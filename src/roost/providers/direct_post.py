"""POST a prepared request on the aiohttp session under an SDK's HTTP client.

The `openai` SDK's aiohttp client is an httpx-style client (its own request, response and
stream objects) wrapped around an `aiohttp.ClientSession`. For the relay of a streamed
completion those wrappers were a quarter of roost's fixed CPU per request, and a share of
each chunk's, in benchmarks/proxy_overhead.py. `DirectPost` sends on that same session, so
the SDK's connection pool, limits and `close()` still apply; only the wrapper layers go.
An error status is turned back into the SDK's own response type by the caller, so errors
read exactly as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use, so `import roost` stays fast
    import aiohttp


class RawResponse:
    """The few parts of a streamed response the provider reads."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code = response.status
        self.headers = response.headers  # case-insensitive, as httpx's
        self.raw_headers = response.raw_headers

    def aiter_raw(self) -> AsyncIterator[bytes]:
        # Whatever has arrived, as it arrives (decompressed by aiohttp if it was encoded).
        return self._response.content.iter_any()

    aiter_bytes = aiter_raw

    async def aread(self) -> bytes:
        return await self._response.read()

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end; closed otherwise (aiohttp).
        self._response.release()


class DirectPost:
    """Sends on the SDK client's aiohttp session, when it has one."""

    def __init__(self, http_client: Any) -> None:
        self._transport = getattr(http_client, "_transport", None)
        # False: the client is the SDK's httpx one (no aiohttp installed); send through it.
        self.available = callable(getattr(self._transport, "get_client", None))

    def _session(self) -> aiohttp.ClientSession:
        import aiohttp

        session = getattr(self._transport, "client", None)
        if not isinstance(session, aiohttp.ClientSession):
            # Made on first use, as the transport itself does; its own close() closes it.
            session = self._transport.get_client()  # type: ignore[union-attr]
            self._transport.client = session  # type: ignore[union-attr]
        return session

    async def send(
        self,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes,
        timeouts: Mapping[str, float | None],
    ) -> RawResponse:
        import aiohttp

        response = await self._session().request(
            "POST",
            url,
            headers=headers,
            data=content,
            allow_redirects=False,
            compress=False,
            timeout=aiohttp.ClientTimeout(
                sock_connect=timeouts.get("connect"),
                sock_read=timeouts.get("read"),
                connect=timeouts.get("pool"),
            ),
        )
        return RawResponse(response)


def http_client(sdk: ModuleType, timeout: Any) -> Any:
    """The SDK's aiohttp transport when aiohttp is there (the SDKs' `aiohttp` extra): under
    concurrent streams it costs about half the CPU of their default httpx one."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return sdk.DefaultAsyncHttpxClient(timeout=timeout)
    return getattr(sdk, "DefaultAioHttpClient", sdk.DefaultAsyncHttpxClient)(timeout=timeout)
