"""`roost daemon heartbeat`: one heartbeat tick now, on the running background server.

The tick runs in the server (it owns the model and the turn locks), reached through
`POST /api/heartbeat/run` at the address `roost daemon start` recorded. The server needs a
key: `--key`, else $ROOST_API_KEY, else the admin password in $ROOST_SERVER_PASS.
"""

from __future__ import annotations

import ssl
from typing import Annotated, Any

import typer

from roost.cli import process
from roost.cli.daemon import Paths
from roost.cli.errors import EXIT_ERROR, EXIT_NOT_RUNNING, fail, reports_errors
from roost.cli.tls import CERT_FILE
from roost.config import admin_password_from_env, default_home

KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="ROOST_API_KEY",
        show_envvar=True,
        help="API key for the server (default: the admin password in ROOST_SERVER_PASS).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the tick (its turn) to finish.")
]


def _describe(event: dict[str, Any]) -> str:
    status = event.get("status", "?")
    line = f"heartbeat {status} in {event.get('duration_ms', 0)} ms"
    if event.get("reason"):
        line += f": {event['reason']}"
    if event.get("response") and status == "ran":
        line += f"\n{event['response']}"
    return line


@reports_errors
def heartbeat(key: KeyOption = None, timeout: TimeoutOption = 600.0) -> None:
    """Run one heartbeat tick now on the background server and print what it did."""
    import httpx

    paths = Paths(default_home())
    pid = process.read_pid(paths.pid)
    url = paths.read_state().get("url")
    if pid is None or not process.is_running(pid) or not isinstance(url, str):
        fail("roost is not running (start it with `roost daemon start`)", EXIT_NOT_RUNNING)
    secret = key or admin_password_from_env()
    if not secret:
        fail("the server needs a key: pass --key or set ROOST_API_KEY or ROOST_SERVER_PASS")
    # An HTTPS daemon uses the self-signed certificate it made in ROOST_HOME: trust that one.
    verify: ssl.SSLContext | bool = True
    if url.startswith("https:"):
        verify = ssl.create_default_context(cafile=str(paths.home / CERT_FILE))
    try:
        response = httpx.post(
            f"{url}/api/heartbeat/run",
            headers={"X-API-Key": secret},
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
    if response.status_code != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        fail(f"the server refused ({response.status_code}): {error.get('message', response.text)}")
    typer.echo(_describe(body))
    if body.get("status") == "failed":
        raise typer.Exit(EXIT_ERROR)
