"""GET /metrics: the Prometheus text format, admin only, and every family moving when its
event happens (each test reads a value before and after)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from roost.config import Settings
from roost.core.errors import ProviderError
from roost.providers.base import RuntimeStatus, TextChunk, UsageChunk
from roost.providers.scripted import Script, ScriptedProvider, reply
from tests import backend
from tests.api.inbox_helpers import Steered, answered, post, queue_of, until
from tests.api.sseclient import AsgiStream
from tests.api.test_database_faults import write_lock
from tests.api.wsclient import AsgiSocket
from tests.conftest import ADMIN_PASSWORD, Env, make_settings, running

KEY = {"X-API-Key": ADMIN_PASSWORD}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    settings.queue.retry_backoff = 0.02
    settings.queue.max_attempts = 2
    async with running(settings, Steered()) as value:
        yield value


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(env: Env) -> Samples:
    response = await env.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0: none)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


async def test_only_the_admin_reads_the_metrics(env: Env) -> None:
    anonymous = await env.client.get("/metrics", headers={"X-API-Key": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    user = await env.client.get("/metrics", headers={"X-API-Key": await env.new_user_key("ann")})
    assert user.status_code == 403
    assert set(user.json()) == {"error"}
    assert user.json()["error"]["code"] == "forbidden"
    admin = await env.services.users.create("root", is_admin=True)
    admin_key = (await env.services.users.create_key(admin)).secret
    answer = await env.client.get("/metrics", headers={"X-API-Key": admin_key})
    assert answer.status_code == 200
    assert "roost_http_requests_total" in answer.text
    # the refused requests were counted like any other
    samples = await scrape(env)
    for status in ("401", "403", "200"):
        assert value(samples, "roost_http_requests_total", route="/metrics", status=status) >= 1


async def test_openmetrics_when_asked(env: Env) -> None:
    accept = "application/openmetrics-text; version=1.0.0"
    answer = await env.client.get("/metrics", headers={"Accept": accept})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


async def test_requests_by_dialect_route_template_and_status(env: Env) -> None:
    before = await scrape(env)
    assert (await env.client.get("/v1/models")).status_code == 200
    missing = await env.client.get("/api/sessions/no-such-session")
    assert missing.status_code == 404
    assert (await env.client.get("/no/such/route/4711")).status_code == 404
    completion = await env.client.post(
        "/v1/chat/completions",
        json={"model": "scripted", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert completion.status_code == 200
    after = await scrape(env)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "roost_http_requests_total"
    assert grew(requests, dialect="openai", route="/v1/models", method="GET", status="200") == 1
    # the template, not the raw path: a client cannot mint series
    session = "/api/sessions/{session_id}"
    assert grew(requests, dialect="native", route=session, method="GET", status="404") == 1
    assert not any("no-such-session" in str(labels) for _, labels in after)
    assert grew(requests, dialect="none", route="unmatched", status="404") == 1
    assert not any("4711" in str(labels) for _, labels in after)
    # the relay served past the router is labelled like the rest
    chat = {"dialect": "openai", "route": "/v1/chat/completions"}
    assert grew(requests, **chat, method="POST", status="200") == 1
    seconds = "roost_http_request_duration_seconds"
    assert grew(f"{seconds}_count", **chat) == 1
    assert grew(f"{seconds}_bucket", **chat, le="+Inf") == 1
    assert grew(f"{seconds}_sum", **chat) > 0


SLOW_REPLY: Script = [0.05, TextChunk("one"), 0.05, TextChunk(" two"), TextChunk(" three")]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat", {"message": "hello"}),  # a stored turn (the turn service)
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hello"}]}),
    ],
    ids=["native", "openai"],
)
async def test_a_turn_counts_tokens_first_token_speed_and_latency(
    env: Env, path: str, body: dict[str, Any]
) -> None:
    env.scripts.queue.append([*SLOW_REPLY, UsageChunk(12, 3)])
    before = await scrape(env)
    assert (await env.client.post(path, json=body)).status_code == 200
    after = await scrape(env)

    def grew(name: str, **labels: str) -> float:
        labels = {"model": "scripted", **labels}
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("roost_generated_tokens_total") == 3
    assert grew("roost_prompt_tokens_total") == 12
    assert grew("roost_generations_total", finish="stop") == 1
    assert grew("roost_time_to_first_token_seconds_count") == 1
    assert grew("roost_time_to_first_token_seconds_sum") >= 0.05
    # the first token came before the second sleep: 2 more tokens in >= 0.05 s
    assert grew("roost_generation_tokens_per_second_count") == 1
    assert 0 < grew("roost_generation_tokens_per_second_sum") <= 2 / 0.05
    assert grew("roost_turn_duration_seconds_count", outcome="done") == 1
    assert grew("roost_turn_duration_seconds_sum", outcome="done") >= 0.1


async def test_a_failed_turn_and_a_cut_stream_are_told_apart(env: Env) -> None:
    env.scripts.queue.append([ProviderError("upstream refused")])
    before = await scrape(env)
    assert (await env.client.post("/api/chat", json={"message": "x"})).status_code == 502
    env.scripts.queue.append([TextChunk("one"), 60.0, TextChunk(" two")])
    body = {"stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with AsgiStream(env.app, "POST", "/v1/chat/completions", headers=KEY, body=body) as s:
        assert s.status == 200
        assert await s.event() is not None  # then the client leaves mid-reply
    after = await scrape(env)

    def grew(name: str, **labels: str) -> float:
        labels = {"model": "scripted", **labels}
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("roost_turn_duration_seconds_count", outcome="failed") == 1
    assert grew("roost_generations_total", finish="error") == 1
    await until(lambda: _grew_later(env, before, "cancelled"))


async def _grew_later(env: Env, before: Samples, outcome: str) -> bool:
    now = await scrape(env)
    name = "roost_turn_duration_seconds_count"
    return value(now, name, outcome=outcome) - value(before, name, outcome=outcome) == 1 and (
        value(now, "roost_generations_total", finish="cancelled")
        - value(before, "roost_generations_total", finish="cancelled")
        == 1
    )


async def test_open_streams_and_websockets_go_up_and_down(env: Env) -> None:
    gauge = "roost_open_streams"
    assert value(await scrape(env), gauge) == 0
    body = {"message": "gate:open:hello"}
    async with AsgiStream(env.app, "POST", "/api/chat/stream", headers=KEY, body=body) as s:
        assert s.status == 200
        assert value(await scrape(env), gauge, dialect="native") == 1
        env.scripts.open("open")  # type: ignore[attr-defined]
        assert "[DONE]" in await s.text()
    assert value(await scrape(env), gauge) == 0

    sockets = "roost_open_websockets"
    async with AsgiSocket(env.app, headers=KEY):
        assert value(await scrape(env), sockets, dialect="native") == 1
        async with AsgiSocket(env.app, headers=KEY):
            assert value(await scrape(env), sockets, dialect="native") == 2
        assert value(await scrape(env), sockets, dialect="native") == 1
    assert value(await scrape(env), sockets) == 0


async def test_inbox_depth_and_deliveries(env: Env) -> None:
    deliveries = "roost_inbox_deliveries_total"
    before = await scrape(env)
    await post(env, "inbox", "gate:inbox:first")
    await post(env, "inbox", "second")
    await until(lambda: _states(env, {"delivering", "pending"}))  # "queued" on the wire
    during = await scrape(env)
    assert value(during, "roost_inbox_messages", state="delivering") == 1
    assert value(during, "roost_inbox_messages", state="queued") == 1
    env.scripts.open("inbox")  # type: ignore[attr-defined]
    await answered(env, "inbox", 2)
    await post(env, "broken", "fail:9:never answered")  # max_attempts = 2
    await until(lambda: _states(env, {"failed"}))
    after = await scrape(env)
    assert value(after, "roost_inbox_messages", state="delivering") == 0
    assert value(after, "roost_inbox_messages", state="queued") == 0
    for outcome, count in (("done", 2), ("retry", 1), ("failed", 1)):
        grown = value(after, deliveries, outcome=outcome) - value(
            before, deliveries, outcome=outcome
        )
        assert grown == count, outcome


async def _states(env: Env, wanted: set[str]) -> bool:
    return {item["state"] for item in await queue_of(env)} == wanted


class Runner(ScriptedProvider):
    """A model in a supervised process, as far as /metrics can tell: its status is set here."""

    def __init__(self) -> None:
        super().__init__([reply("ok")], name="runner")
        self.now = RuntimeStatus("ready", 4242, 0, None, 300_000_000, slots=4)

    def status(self) -> RuntimeStatus:
        return self.now


async def test_runner_slots_queue_and_restarts_are_read_at_scrape_time(env: Env) -> None:
    runner = Runner()
    env.services.providers.install("runner", runner)
    samples = await scrape(env)
    assert value(samples, "roost_model_slots", model="runner") == 4
    assert value(samples, "roost_model_slots_busy", model="runner") == 0
    assert value(samples, "roost_model_queued_requests", model="runner") == 0
    assert value(samples, "roost_model_runner_restarts_total", model="runner") == 0
    assert value(samples, "roost_model_resident_memory_bytes", model="runner") == 300_000_000
    assert value(samples, "roost_model_state", model="runner", state="ready") == 1
    runner.now = replace(runner.now, state="restarting", restarts=2, slots_busy=3, queued=5)
    samples = await scrape(env)
    assert value(samples, "roost_model_slots_busy", model="runner") == 3
    assert value(samples, "roost_model_queued_requests", model="runner") == 5
    assert value(samples, "roost_model_runner_restarts_total", model="runner") == 2
    assert value(samples, "roost_model_state", model="runner", state="restarting") == 1
    assert value(samples, "roost_model_state", model="runner", state="ready") == 0


async def test_a_broken_status_does_not_break_the_scrape(env: Env) -> None:
    runner = Runner()
    env.services.providers.install("runner", runner)

    def broken() -> RuntimeStatus:
        raise RuntimeError("the state file is gone")

    runner.status = broken  # type: ignore[method-assign]
    await env.client.get("/v1/models")
    samples = await scrape(env)
    assert value(samples, "roost_model_slots", model="runner") == 0
    assert value(samples, "roost_http_requests_total") > 0


@backend.sqlite_only("the lock held is SQLite's write lock")
async def test_database_errors_are_counted(settings: Settings) -> None:
    settings.database_busy_timeout = 0.3
    async with running(settings) as env:
        before = value(await scrape(env), "roost_database_errors_total", kind="unavailable")
        with write_lock(settings.home / "roost.db"):
            refused = await env.client.post("/api/sessions", json={})
            assert refused.status_code == 503, refused.text
        after = value(await scrape(env), "roost_database_errors_total", kind="unavailable")
    assert after - before >= 1


async def test_two_apps_count_apart(settings: Settings, env: Env) -> None:
    other_home = settings.home.parent / "other"
    other_home.mkdir()
    other = make_settings(other_home)
    other.default_model = "scripted"
    async with running(other) as second:
        await second.client.get("/v1/models")
        await second.client.get("/v1/models")
        mine = value(await scrape(env), "roost_http_requests_total", route="/v1/models")
        theirs = value(await scrape(second), "roost_http_requests_total", route="/v1/models")
    assert (mine, theirs) == (0, 2)


async def test_the_scrape_answers_while_the_inbox_count_fails(env: Env) -> None:
    async def failing() -> dict[str, int]:
        raise ConnectionError("database went away")

    env.services.inbox.depth = failing  # type: ignore[method-assign]
    response = await env.client.get("/metrics")
    assert response.status_code == 200
    assert "roost_inbox_messages" in response.text


async def test_the_metrics_route_is_the_admins_in_the_document(env: Env) -> None:
    document = (await env.client.get("/openapi.json")).json()
    operation = document["paths"]["/metrics"]["get"]
    assert "text/plain; version=0.0.4" in operation["responses"]["200"]["content"]
    assert {"401", "403"} <= set(operation["responses"])
    assert operation["security"]
