"""`roost daemon heartbeat`: one heartbeat tick now, on the running background server.

The tick runs in the server (it owns the model and the turn locks), reached through
`POST /api/heartbeat/run` at the address `roost daemon start` recorded. The server needs a
key: `--key`, else $ROOST_API_KEY, else the admin password in $ROOST_SERVER_PASS.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roost.cli import process, server_call
from roost.cli.daemon import Paths
from roost.cli.errors import EXIT_ERROR, EXIT_NOT_RUNNING, fail, reports_errors
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
    paths = Paths(default_home())
    pid = process.read_pid(paths.pid)
    url = paths.read_state().get("url")
    if pid is None or not process.is_running(pid) or not isinstance(url, str):
        fail("roost is not running (start it with `roost daemon start`)", EXIT_NOT_RUNNING)
    secret = key or admin_password_from_env()
    if not secret:
        fail("the server needs a key: pass --key or set ROOST_API_KEY or ROOST_SERVER_PASS")
    body = server_call.call(
        "POST", url, "/api/heartbeat/run", secret, home=paths.home, timeout=timeout
    )
    typer.echo(_describe(body))
    if body.get("status") == "failed":
        raise typer.Exit(EXIT_ERROR)
