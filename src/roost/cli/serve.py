"""`roost serve` (alias `roost server`): the HTTP server in the foreground."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer

from roost.cli.errors import EXIT_CONFIG, fail, reports_errors
from roost.config import load_settings

_WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}
LISTENING = "roost listening on"  # `daemon start` watches the log for this line


class LogLevel(enum.StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", "-p", help="Port to listen on (default 31327).")
]
OllamaPortOption = Annotated[
    int | None,
    typer.Option(
        "--ollama-port",
        help="Also serve Ollama's API at the root of this port (11434 is Ollama's own); "
        "[ollama] port.",
    ),
]
SslOption = Annotated[
    bool | None,
    typer.Option(
        "--use-ssl/--no-ssl",
        help="Serve HTTPS with a self-signed certificate kept in $ROOST_HOME.",
        show_default=False,
    ),
]
LogLevelOption = Annotated[
    LogLevel, typer.Option("--log-level", help="Server log level.", case_sensitive=False)
]
# For commands that pass the flag on only when it is given.
MaybeLogLevelOption = Annotated[
    LogLevel | None,
    typer.Option("--log-level", help="Server log level (default: info).", case_sensitive=False),
]


def server_overrides(
    host: str | None, port: int | None, use_ssl: bool | None
) -> dict[tuple[str, ...], Any]:
    """Flags win over file and environment; unset flags (None) leave them alone."""
    return {("server", "bind"): host, ("server", "port"): port, ("server", "use_ssl"): use_ssl}


def format_url(scheme: str, host: str, port: int) -> str:
    host = _WILDCARD_TO_LOOPBACK.get(host, host)
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


@reports_errors
def serve(
    host: HostOption = None,
    port: PortOption = None,
    use_ssl: SslOption = None,
    log_level: LogLevelOption = LogLevel.info,
    ollama_port: OllamaPortOption = None,
) -> None:
    """Run the roost server in the foreground."""
    overrides = {**server_overrides(host, port, use_ssl), ("ollama", "port"): ollama_port}
    settings = load_settings(overrides=overrides)
    if not settings.server.enabled:
        fail(
            "the HTTP server is disabled ([server] enabled = false, set in "
            f"{settings.config_path} or ROOST_SERVER_ENABLED)",
            EXIT_CONFIG,
        )
    # Imported here: the web app and uvicorn are the slow part of starting, needed only now.
    from roost.app import check_settings
    from roost.providers.catalog import check_default

    check_default(settings)  # config.toml's and the store's models
    from roost.cli.server import run_server

    check_settings(settings)  # an unsafe combination is refused before anything binds
    run_server(settings, log_level)
