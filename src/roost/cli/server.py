"""Running uvicorn on the app: logging, TLS, the listening line, clean config failures."""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import typer
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from roost.cli.deferred import DeferredApp
from roost.cli.errors import EXIT_ERROR, config_failure
from roost.cli.metrics_listener import MetricsListener
from roost.cli.ollama_listener import OllamaListener
from roost.cli.redact import Redact
from roost.cli.serve import LISTENING, LogLevel, format_url
from roost.cli.side_listener import SideListener
from roost.cli.slowclients import guarded_protocol
from roost.config import Settings, admin_password_from_env, generate_admin_password
from roost.core.errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from roost.core.metrics import Metrics

log = logging.getLogger("roost")
# The cyclic garbage collector, tuned for a long-running server. With the default gen0
# threshold of 700, the objects of requests in flight set off a young collection every few
# requests, and every few seconds a full one walked the ~200,000 objects of the imported
# app (100-150 ms with the loop stalled): 0.6 ms of CPU a request in the proxy benchmark
# (benchmarks/proxy_overhead.py, 50 clients), and its worst latencies. Reference counting
# frees almost all garbage; the collector still finds cycles, less often, and the objects
# alive once the app has started are frozen out of its walks.
GC_THRESHOLD = (20_000, 10, 10)


# An admin password shorter than this is warned about at start (a generated one has 32).
MIN_PASSWORD_CHARS = 16

# Long enough for a streaming reply to finish, short enough that `daemon stop` need not
# escalate to SIGKILL; turns still running after it are drained by the services' close.
GRACEFUL_SHUTDOWN_SECONDS = 10


class ConfigErrorCatcher:
    """Reports a ConfigError raised while the app starts as one line, not a traceback.

    Starlette reports a failed lifespan startup with the formatted traceback as the
    message, which uvicorn logs. This holds that message back until the exception is
    known; a ConfigError (a bad database_url, an unknown provider) replaces it with an
    empty one and is kept for the command to print.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.error: ConfigError | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except ConfigError as exc:
            self.error = exc
            await send({"type": "lifespan.startup.failed", "message": ""})
            return
        finally:
            if self.error is None:
                for message in held:
                    await send(message)


def websocket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket settings: frames bounded like request bodies, and no
    per-message compression (its zlib state costs ~40 KB a connection, and token deltas
    are too small to gain from it)."""
    return {"ws_max_size": settings.limits.max_body_bytes, "ws_per_message_deflate": False}


def _log_config(level: LogLevel) -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": Redact}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    # roost's own loggers print beside uvicorn's, in the same format and at the same level.
    config["loggers"]["roost"] = {
        "handlers": ["default"],
        "level": level.value.upper(),
        "propagate": False,
    }
    return config


def short_password(length: int) -> str:
    return (
        f"the admin password (ROOST_SERVER_PASS or MEMGPT_SERVER_PASS) has {length} "
        f"character{'s' if length != 1 else ''}, and it opens every route: use at least "
        f"{MIN_PASSWORD_CHARS} random ones, or unset it to get a new generated one at each start"
    )


def run_server(settings: Settings, log_level: LogLevel) -> None:
    """Serve until SIGINT/SIGTERM. Raises typer.Exit when the server cannot start."""
    catchers: list[ConfigErrorCatcher] = []
    failures: list[BaseException] = []

    # Decided before listening, so the line is printed before the port opens.
    password = admin_password_from_env()
    if password is None:
        password = generate_admin_password()
        print(f"Generated admin server password for this session: {password}", flush=True)
    elif len(password) < MIN_PASSWORD_CHARS:
        typer.echo(f"roost: warning: {short_password(len(password))}", err=True)

    def build() -> ASGIApp:
        from roost.app import create_app  # the slow import, done after the port is open

        catchers.append(ConfigErrorCatcher(create_app(settings, admin_password=password)))
        return catchers[0]

    def failed(exc: BaseException) -> None:
        failures.append(exc)
        server.should_exit = True

    server_settings = settings.server
    cert = key = None
    if server_settings.use_ssl:
        from roost.cli import tls  # cryptography is only needed for HTTPS

        cert_path, key_path, warning = tls.ensure_certificate(settings.home, server_settings.bind)
        if warning:
            typer.echo(f"roost: warning: {warning}", err=True)
        cert, key = str(cert_path), str(key_path)
    gc.set_threshold(*GC_THRESHOLD)
    config = uvicorn.Config(
        DeferredApp(build, failed, on_ready=gc.freeze),
        host=server_settings.bind,
        port=server_settings.port,
        log_level=log_level.value,
        log_config=_log_config(log_level),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        http=guarded_protocol(settings.limits.header_timeout),
        lifespan="on",
        ssl_certfile=cert,
        ssl_keyfile=key,
        **websocket_options(settings),
    )

    def reload() -> Coroutine[Any, Any, object] | None:
        app = catchers[0].app if catchers else None
        services = getattr(getattr(app, "state", None), "services", None)
        if services is None:  # still starting: it reads the secrets file as it starts
            return None
        return services.consumers.reload()  # type: ignore[no-any-return]

    def metrics() -> Metrics | None:
        app = catchers[0].app if catchers else None
        return getattr(getattr(app, "state", None), "metrics", None)

    def main_app() -> ASGIApp | None:
        return catchers[0].app if catchers else None

    listeners: list[SideListener] = []
    try:
        if settings.metrics.port:
            what, where = "metrics", f"{settings.metrics.bind}:{settings.metrics.port}"
            listeners.append(MetricsListener(settings, metrics))
        if settings.ollama.port:
            what, where = "Ollama", f"{settings.ollama.bind}:{settings.ollama.port}"
            listeners.append(OllamaListener(settings, main_app))
    except OSError as exc:
        section = what.lower()
        typer.echo(f"roost: cannot listen for {what} on {where} ([{section}]): {exc}", err=True)
        for listener in listeners:
            listener.close()
        raise typer.Exit(EXIT_ERROR) from None
    server = RoostServer(
        config, scheme="https" if cert else "http", on_hangup=reload, listeners=listeners
    )
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits this way when binding fails
        raise typer.Exit(EXIT_ERROR) from exc
    if failures:
        error = failures[0]
        if not isinstance(error, ConfigError) and catchers:
            error = catchers[0].error or error
        if isinstance(error, ConfigError):
            config_failure(error)
        typer.echo(f"roost: the server could not start: {error}", err=True)
        raise typer.Exit(EXIT_ERROR)


class RoostServer(uvicorn.Server):
    """Prints where it listens once it really does, with the real port when given 0."""

    def __init__(
        self,
        config: uvicorn.Config,
        scheme: str,
        on_hangup: Callable[[], Coroutine[Any, Any, object] | None] | None = None,
        listeners: list[SideListener] | None = None,
    ) -> None:
        super().__init__(config)
        self.scheme = scheme
        # The [metrics] and [ollama] listeners, started and stopped with this one.
        self._listeners = listeners or []
        self._on_hangup = on_hangup
        self._reloads: set[asyncio.Task[object]] = set()

    def _hangup(self) -> None:
        """SIGHUP (`roost daemon reload`): re-read the secrets file, without a restart."""
        log.info("SIGHUP: reloading the consumers' keys")
        work = self._on_hangup() if self._on_hangup else None
        if work is not None:
            task = asyncio.get_running_loop().create_task(work)
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # SIGHUP would end the process by default; here it means "reload".
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)
        port = self.servers[0].sockets[0].getsockname()[1]
        url = format_url(self.scheme, self.config.host, port)
        print(f"{LISTENING} {url} (Ctrl-C to stop)", file=sys.stdout, flush=True)
        for listener in self._listeners:
            await listener.start()
            print(f"roost {listener.name} on {listener.url}", file=sys.stdout, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self._listeners:
            await listener.stop()
        await super().shutdown(sockets)
