"""The `[metrics]` listener's app (GET /metrics without a key, nothing else) and the rule
that keeps it off other machines unless the operator says otherwise. The listener in a
real `roost serve` is tested in tests/e2e/test_metrics.py."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from roost.api.guards import HostGuard
from roost.api.metrics import listener
from roost.app import check_settings
from roost.config import Settings
from roost.core.errors import ConfigError
from roost.core.metrics import Metrics
from tests.conftest import Env


def client(metrics: Metrics | None) -> httpx.AsyncClient:
    app = HostGuard(listener(lambda: metrics), bind="127.0.0.1", extra=())
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:9464"
    )


async def test_the_listener_serves_the_apps_metrics_without_a_key(env: Env) -> None:
    await env.client.get("/v1/models")
    async with client(env.app.state.metrics) as metrics:
        answer = await metrics.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        names = {family.name for family in text_string_to_metric_families(answer.text)}
        assert {"roost_http_requests", "roost_inbox_messages", "roost_model_slots"} <= names
        assert 'route="/v1/models"' in answer.text  # the main listener's requests
        head = await metrics.head("/metrics")
        assert (head.status_code, head.content) == (200, b"")
        assert int(head.headers["content-length"]) > 0


async def test_the_listener_serves_nothing_else() -> None:
    async with client(Metrics()) as metrics:
        for method, path, status in (
            ("GET", "/api/sessions", 404),
            ("GET", "/", 404),
            ("POST", "/metrics", 405),
        ):
            answer = await metrics.request(method, path)
            assert answer.status_code == status, (method, path)
            assert set(answer.json()["error"]) == {"code", "message"}
        foreign = await metrics.get("/metrics", headers={"Host": "attacker.example"})
        assert foreign.status_code == 400  # a DNS-rebinding page cannot read it either


async def test_the_listener_says_so_while_roost_starts() -> None:
    async with client(None) as metrics:
        answer = await metrics.get("/metrics")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"


def test_a_remote_metrics_bind_needs_saying_so(settings: Settings) -> None:
    settings.metrics.bind = "0.0.0.0"
    check_settings(settings)  # no listener (port 0): nothing listens there
    settings.metrics.port = 9464
    with pytest.raises(ConfigError, match=r"allow_remote"):
        check_settings(settings)
    settings.metrics.allow_remote = True
    check_settings(settings)
    for loopback in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        settings.metrics.allow_remote = False
        settings.metrics.bind = loopback
        check_settings(settings)
