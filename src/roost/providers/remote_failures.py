"""What went wrong with a call to a remote model, in a few words for the turn's error.

Judged by the root causes of an exception, since the SDKs' own classes differ by transport
(httpx or aiohttp). Shared by the OpenAI-compatible, Anthropic and speech providers.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _detail(chain: list[BaseException]) -> str:
    """The transport's own words (httpx's or aiohttp's): the SDKs' wrappers say little."""
    for error in chain:
        text = str(error).strip()
        if text and not type(error).__module__.startswith(("openai", "anthropic")):
            return text.splitlines()[0]
    return str(chain[-1]) or type(chain[-1]).__name__


def status_message(exc: Any) -> str:
    """The upstream's own words from an error body: {"error": {"message": ...}} and kin."""
    body = exc if isinstance(exc, dict) else getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    elif isinstance(body, str) and body:
        return body[:300]
    return str(getattr(exc, "message", exc))


_STALE = (
    "ServerDisconnectedError",
    "RemoteProtocolError",
    "ConnectionResetError",
    "BrokenPipeError",
)


def stale_connection(exc: BaseException) -> bool:
    """Whether a pooled connection the server had closed failed the send (no response)."""
    chain = _chain(exc)
    refused = any(isinstance(e, ConnectionRefusedError) for e in chain)
    return not refused and any(type(e).__name__ in _STALE for e in chain)


def describe_failure(
    sdk: ModuleType, exc: BaseException, url: str, timeout: float, *, started: bool
) -> str:
    """A short reason for a failed call; `started`: the response had begun streaming.

    Judged by the root causes: the SDKs' own classes differ by transport (with aiohttp,
    a refused connection arrives as a timeout)."""
    chain = _chain(exc)
    if isinstance(exc, sdk.APIStatusError):
        message = status_message(exc)
        if started:  # an `error` event inside a 200 stream
            return f"upstream stream ended early with an error: {message}"
        return f"HTTP {exc.status_code}: {message}"
    if not started and any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection refused to {url}"
    if any(isinstance(e, TimeoutError) for e in chain):
        if started:
            return f"upstream stream ended early: no data for {timeout:g} s"
        if any(type(e).__name__ in ("ConnectTimeout", "ConnectionTimeoutError") for e in chain):
            return f"connecting to {url} timed out"
        return f"no answer from {url} within {timeout:g} s"
    # The transport's own errors: the OpenAI provider sends through the SDK's HTTP client.
    transport = type(exc).__module__.startswith(("httpx", "httpcore", "aiohttp", "h11"))
    if not started and (isinstance(exc, sdk.APIConnectionError) or transport):
        return f"cannot connect to {url}: {_detail(chain)}"
    if isinstance(exc, ValueError):
        return f"upstream sent malformed data: {exc}"
    if started and (isinstance(exc, (sdk.APIError, OSError)) or transport):
        return f"upstream stream ended early: {_detail(chain)}"
    return f"unexpected failure: {type(exc).__name__}: {exc}"
