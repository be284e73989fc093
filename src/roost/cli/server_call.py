"""One request from a command to the running server (`roost heartbeat`, `roost stop`):
its key, its self-signed certificate when it serves HTTPS, and its refusals as one line."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from roost.cli.errors import fail
from roost.cli.tls import CERT_FILE


def call(
    method: str, url: str, path: str, key: str, *, home: Path, timeout: float
) -> dict[str, Any]:
    """The JSON object the server answers with 200; anything else ends the command."""
    import httpx

    # An HTTPS server uses the self-signed certificate it made in ROOST_HOME: trust that one.
    verify: ssl.SSLContext | bool = True
    if url.startswith("https:"):
        verify = ssl.create_default_context(cafile=str(home / CERT_FILE))
    try:
        response = httpx.request(
            method,
            f"{url}{path}",
            headers={"X-API-Key": key},
            timeout=timeout,
            verify=verify,
            trust_env=False,
        )
    except httpx.HTTPError as exc:
        fail(f"could not reach the server at {url}: {exc}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        reason = error.get("message") if isinstance(error, dict) else None
        fail(f"the server refused ({response.status_code}): {reason or response.text}")
    return body
