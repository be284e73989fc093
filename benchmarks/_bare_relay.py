"""The floor under roost's proxy overhead: the same server stack doing nothing but relay.

uvicorn (httptools, uvloop) and one aiohttp session, as roost runs them, passing the
request body up and the upstream's bytes back untouched: no authentication, validation,
parsing or re-framing. What this adds over going straight to the upstream is what the
stack itself costs on this machine; roost's added latency is read against it.
Run: python benchmarks/_bare_relay.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import uvicorn

UPSTREAM = ""
_session: aiohttp.ClientSession | None = None


async def _lifespan(receive: Any, send: Any) -> None:
    global _session
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _session = aiohttp.ClientSession()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _session is not None:
                await _session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    assert _session is not None
    headers = {"content-type": "application/json"}
    url = UPSTREAM + scope["path"]
    async with _session.post(url, data=body, headers=headers) as response:
        start = {"type": "http.response.start", "status": response.status}
        await send({**start, "headers": [(b"content-type", b"text/event-stream")]})
        async for chunk in response.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def main() -> None:
    global UPSTREAM
    port, UPSTREAM = int(sys.argv[1]), sys.argv[2].rstrip("/")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
