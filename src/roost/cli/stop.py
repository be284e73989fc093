"""`roost stop NAME`: unload a model from the running server now, as `ollama stop` does.

Through `DELETE /api/ps/NAME` (admins): at the address `roost daemon start` recorded, else
the one config.toml gives the server, or `--url`. The key: `--key`, else $ROOST_API_KEY,
else the admin password in $ROOST_SERVER_PASS.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from roost.cli import process, server_call
from roost.cli.daemon import Paths
from roost.cli.errors import fail, reports_errors
from roost.cli.heartbeat import KeyOption
from roost.config import admin_password_from_env, default_home, load_settings

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The server (default: the background server's address, else config.toml's).",
    ),
]


def server_url() -> str:
    paths = Paths(default_home())
    pid = process.read_pid(paths.pid)
    url = paths.read_state().get("url")
    if pid is not None and process.is_running(pid) and isinstance(url, str):
        return url
    server = load_settings().server
    host = "127.0.0.1" if server.bind in ("0.0.0.0", "::", "") else server.bind
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if server.use_ssl else 'http'}://{host}:{server.port}"


@reports_errors
def stop(
    name: Annotated[str, typer.Argument(help="The model's name, as `roost ps` lists it.")],
    key: KeyOption = None,
    url: UrlOption = None,
) -> None:
    """Unload a model from the running server now (or once its requests are done)."""
    target = (url or server_url()).rstrip("/")
    secret = key or admin_password_from_env()
    if not secret:
        fail("the server needs an admin key: pass --key or set ROOST_API_KEY or ROOST_SERVER_PASS")
    path = f"/api/ps/{quote(name, safe='/:')}"
    body = server_call.call("DELETE", target, path, secret, home=default_home(), timeout=60)
    typer.echo(f"{name} unloaded" if body.get("unloaded") else f"{name} was not loaded")
