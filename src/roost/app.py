"""create_app(settings) → the ASGI app. Services are built in the lifespan, not at import."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from roost import __version__
from roost.api import errors
from roost.api.anthropic import described as anthropic_described
from roost.api.anthropic import messages_route as anthropic_messages_route
from roost.api.anthropic import register_errors as register_anthropic_errors
from roost.api.anthropic import router as anthropic_router
from roost.api.bodies import BodyLimit
from roost.api.chatnvim import register_errors as register_chatnvim_errors
from roost.api.chatnvim import router as chatnvim_router
from roost.api.deps import single_query_values
from roost.api.fast_path import RoostApp
from roost.api.guards import HostGuard
from roost.api.kernel2 import register_errors as register_kernel2_errors
from roost.api.kernel2 import router as kernel2_router
from roost.api.limits import Limiter, RateLimit, bounds
from roost.api.llamachat import register_errors as register_llamachat_errors
from roost.api.llamachat import router as llamachat_router
from roost.api.memgpt import register_errors as register_memgpt_errors
from roost.api.memgpt import router as memgpt_router
from roost.api.metrics import router as metrics_router
from roost.api.native import router as native_router
from roost.api.ollama import chat_routes as ollama_chat_routes
from roost.api.ollama import described as ollama_described
from roost.api.ollama import register_errors as register_ollama_errors
from roost.api.ollama import router as ollama_router
from roost.api.openai import chat_route as openai_chat_route
from roost.api.openai import described as openai_described
from roost.api.openai import register_errors as register_openai_errors
from roost.api.openai import router as openai_router
from roost.api.openapi import install as install_openapi
from roost.api.request_metrics import RequestMetrics
from roost.api.responses import register_errors as register_responses_errors
from roost.api.responses import router as responses_router
from roost.api.ui import router as ui_router
from roost.api.uploads import upload_limits
from roost.config import Settings, is_loopback_bind
from roost.core.errors import ConfigError
from roost.core.metrics import Metrics
from roost.providers.registry import ProviderRegistry
from roost.services.container import (
    Services,
    admin_password_from_env,
    build_services,
    generate_admin_password,
)

log = logging.getLogger("roost")


def check_settings(settings: Settings) -> None:
    """Refuse combinations that would be unsafe, before anything listens."""
    bind = settings.server.bind
    if not settings.auth.required and not is_loopback_bind(bind):
        raise ConfigError(
            f"[auth] required = false is only allowed on a loopback bind address, not '{bind}' "
            f"(in {settings.config_path} or ROOST_AUTH_REQUIRED)"
        )
    ollama = settings.ollama
    if not ollama.auth:
        # Without a key, requests from this machine act as the default user: both ports
        # that serve the dialect must be reachable from this machine only.
        for name, address in (("[server] bind", bind), ("[ollama] bind", ollama.bind)):
            if not is_loopback_bind(address):
                raise ConfigError(
                    f"[ollama] auth = false is only allowed when {name} is a loopback "
                    f"address, not '{address}' (in {settings.config_path} or ROOST_OLLAMA_AUTH)"
                )
    metrics = settings.metrics
    if metrics.port and not is_loopback_bind(metrics.bind) and not metrics.allow_remote:
        # That listener asks for no key: anyone who reaches the address reads the metrics.
        raise ConfigError(
            f"[metrics] bind = '{metrics.bind}' is not a loopback address, and the metrics "
            "listener asks for no key: set [metrics] allow_remote = true if only your "
            f"monitoring can reach it, or scrape /metrics on the main port with the admin key "
            f"(in {settings.config_path} or ROOST_METRICS_BIND)"
        )


def create_app(
    settings: Settings,
    *,
    admin_password: str | None = None,
    providers: Callable[[Settings], ProviderRegistry] | None = None,
    announce: Callable[[str], None] | None = None,
) -> FastAPI:
    """Build the app. `providers` lets tests install scripted models in the registry."""
    check_settings(settings)
    metrics = Metrics()  # this app's own registry: apps in one process count apart

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        password = admin_password or admin_password_from_env()
        if password is None:
            password = generate_admin_password()
            say = announce or (lambda line: print(line, file=sys.stdout, flush=True))
            say(f"Generated admin server password for this session: {password}")
        registry = providers(settings) if providers else None
        services: Services = await build_services(
            settings,
            admin_password=password,
            providers=registry,
            replica=f"{socket.gethostname()}:{settings.server.bind}:{settings.server.port}",
            metrics=metrics,
        )
        app.state.services = services
        try:
            await services.consumers.start()  # a bad secrets file refuses the start
            await services.transcription.check()
            await services.memory.start(services.auth.default_user)
            await services.leases.start()  # before the inbox: claims need its presence
            await services.turns.recover()  # before any turn: crashed turns get an error
            await services.agents.resume_interrupted()  # agents answer what a crash cut
            await services.inbox.start()
            await services.streams.start()  # purge timer; LISTEN on PostgreSQL
            services.heartbeat.start()  # only ticks when [heartbeat] enabled
        except BaseException:
            await services.close()
            raise
        try:
            yield
        finally:
            await services.close()

    app = RoostApp(
        title="roost",
        version=__version__,
        description="A local-first AI assistant server speaking the APIs your clients use.",
        lifespan=lifespan,
        # /docs and /redoc would load Swagger UI and ReDoc from a CDN: no third-party
        # origin (see docs/openapi.md). /openapi.json stays, public.
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = metrics
    ollama = settings.ollama
    errors.install(app)
    install_openapi(app, declared=[openai_described, ollama_described, anthropic_described])
    register_kernel2_errors()
    register_openai_errors()
    # Routes are matched in order, each nested router at a cost (~40 us a request for
    # each one passed over, twice: FastAPI matches again to handle): the chat
    # completions relay, the path that must add least, comes first, as plain ASGI
    # (api/openai/chat.py). No paths overlap.
    app.router.routes.append(openai_chat_route)
    app.add_fast_route(openai_chat_route.path, openai_chat_route.app)
    app.router.routes.append(anthropic_messages_route)  # as lean: a relayed turn
    app.add_fast_route(anthropic_messages_route.path, anthropic_messages_route.app)
    for route in ollama_chat_routes:  # Ollama's turns: as lean as the OpenAI relay
        app.router.routes.append(route)
        app.add_fast_route(route.path, route.app)
    app.include_router(openai_router)
    register_anthropic_errors()  # after OpenAI's: /v1/messages is a longer prefix of /v1
    app.include_router(anthropic_router)
    register_responses_errors()
    app.include_router(responses_router)
    single = [Depends(single_query_values)]  # ?a=1&a=2 is a 400 (not on /v1: no queries)
    app.include_router(kernel2_router, dependencies=single)
    app.include_router(native_router, dependencies=single)
    register_memgpt_errors()
    app.include_router(memgpt_router, dependencies=single)
    register_chatnvim_errors()
    app.include_router(chatnvim_router, dependencies=single)
    register_llamachat_errors()
    app.include_router(llamachat_router, dependencies=single)
    register_ollama_errors()
    app.include_router(ollama_router)
    app.include_router(ui_router)
    app.include_router(metrics_router)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(
        BodyLimit,
        default=settings.limits.max_body_bytes,
        overrides=upload_limits(settings.speech.max_file_bytes),
        max_depth=settings.limits.max_json_depth,
        timeout=settings.limits.body_timeout,
    )
    limits = bounds(settings)
    if limits.active:  # inside the Host check: a refused Host costs no bucket
        app.add_middleware(RateLimit, bounds=limits, limiter=Limiter(limits))
    app.add_middleware(
        HostGuard,
        bind=settings.server.bind,
        # The [ollama] listener hands its requests, Host and all, to this app.
        extra=[*settings.server.allowed_hosts, *([ollama.bind] if ollama.port else [])],
        origins=settings.server.cors_origins,
    )
    # Outermost: it sees every answer, the Host check's and the rate limit's included.
    routes = {r.path: r for r in (openai_chat_route, anthropic_messages_route, *ollama_chat_routes)}
    app.add_middleware(RequestMetrics, metrics=metrics, fast_routes=routes)
    return app
