"""The server's Prometheus metrics: every family, on one CollectorRegistry per app.

Each layer records through this object (the HTTP middleware, the turn and inbox services,
the database's error hook), so the families are defined once, here. A registry per app,
not prometheus_client's global one: two apps in one process (tests) count apart.
What is cheaper to read than to count — the model runners' slots, queues and restarts,
the inbox's depth — is read when /metrics is scraped (`watch_runtimes`, `before_scrape`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Streams and turns on a CPU model last minutes; the default buckets stop at 10 s.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TURN_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
FIRST_TOKEN_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
SPEED_BUCKETS = (1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 1000)
INBOX_STATES = ("queued", "delivering")


class Runtime(Protocol):
    """What a supervised model reports (providers.base.RuntimeStatus has these)."""

    @property
    def state(self) -> str: ...
    @property
    def restarts(self) -> int: ...
    @property
    def rss_bytes(self) -> int | None: ...
    @property
    def slots(self) -> int: ...
    @property
    def slots_busy(self) -> int: ...
    @property
    def queued(self) -> int: ...


RuntimeSource = Callable[[], Iterable[tuple[str, Runtime]]]


class Metrics:
    def __init__(self) -> None:
        # No `<name>_created` series beside every counter and histogram: Prometheus stores
        # them as series of their own, for a start time it knows anyway. (A switch of
        # prometheus_client's, process-wide; nothing else in roost's process uses it.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "roost_http_requests",
            "HTTP requests answered, by dialect, route template, method and status",
            ["dialect", "route", "method", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "roost_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a stream's last byte)",
            ["dialect", "route"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.open_streams = Gauge(
            "roost_open_streams",
            "Streaming responses (Server-Sent Events, NDJSON) being sent now",
            ["dialect"],
            registry=registry,
        )
        self.open_websockets = Gauge(
            "roost_open_websockets",
            "WebSocket connections open now",
            ["dialect"],
            registry=registry,
        )
        self.turn_seconds = Histogram(
            "roost_turn_duration_seconds",
            "A whole turn (model calls, tools, storing the reply), by model and outcome",
            ["model", "outcome"],
            buckets=TURN_BUCKETS,
            registry=registry,
        )
        self.generations = Counter(
            "roost_generations",
            "Model calls, by model and how they ended (the finish reason, or error)",
            ["model", "finish"],
            registry=registry,
        )
        self.generated_tokens = Counter(
            "roost_generated_tokens",
            "Tokens the models generated (completion tokens)",
            ["model"],
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "roost_prompt_tokens",
            "Prompt tokens the models read",
            ["model"],
            registry=registry,
        )
        self.tokens_per_second = Histogram(
            "roost_generation_tokens_per_second",
            "Decoding speed of one model call: tokens after the first / seconds after it",
            ["model"],
            buckets=SPEED_BUCKETS,
            registry=registry,
        )
        self.first_token_seconds = Histogram(
            "roost_time_to_first_token_seconds",
            "Time from a model call to its first token (text, reasoning or a tool call)",
            ["model"],
            buckets=FIRST_TOKEN_BUCKETS,
            registry=registry,
        )
        self.inbox_messages = Gauge(
            "roost_inbox_messages",
            "Inbox messages not answered yet, by state (the whole queue, every replica's)",
            ["state"],
            registry=registry,
        )
        self.inbox_deliveries = Counter(
            "roost_inbox_deliveries",
            "Inbox delivery attempts by this server: done, retry (failed, will retry), failed",
            ["outcome"],
            registry=registry,
        )
        self.database_errors = Counter(
            "roost_database_errors",
            "Database driver errors: unavailable (locked, full, unreachable) or other",
            ["kind"],
            registry=registry,
        )
        self._runtimes = _RuntimeCollector()
        registry.register(self._runtimes)
        ProcessCollector(registry=registry)  # process_* (CPU, memory, open files)
        PlatformCollector(registry=registry)  # python_info
        self._before_scrape: dict[str, Callable[[], Awaitable[None]]] = {}

    # -- what the services record --

    def generation(self, model: str) -> Generation:
        return Generation(self, model)

    def turn(self, model: str, outcome: str, seconds: float) -> None:
        self.turn_seconds.labels(model, outcome).observe(seconds)

    def inbox_delivery(self, outcome: str) -> None:
        self.inbox_deliveries.labels(outcome).inc()

    def database_error(self, kind: str) -> None:
        self.database_errors.labels(kind).inc()

    def set_inbox_depth(self, counts: Mapping[str, int]) -> None:
        for state in INBOX_STATES:
            self.inbox_messages.labels(state).set(counts.get(state, 0))

    # -- what is read at scrape time --

    def watch_runtimes(self, source: RuntimeSource) -> None:
        """Report the supervised models `source` lists (replaces an earlier source)."""
        self._runtimes.source = source

    def before_scrape(self, name: str, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run `refresh` before each scrape (one per name: a second start replaces it)."""
        self._before_scrape[name] = refresh

    async def refresh(self) -> None:
        for name, refresh in list(self._before_scrape.items()):
            try:
                await refresh()
            except Exception as exc:  # a scrape still answers, with the last values
                log.warning("metrics: could not refresh %s: %s", name, exc)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition (text format, or OpenMetrics when `accept` asks) and its type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class Generation:
    """One model call: the time to its first token, its tokens and speed, how it ended."""

    __slots__ = ("_first", "_metrics", "_model", "_start", "_usage")

    def __init__(self, metrics: Metrics, model: str) -> None:
        self._metrics = metrics
        self._model = model
        self._start = time.perf_counter()
        self._first: float | None = None
        self._usage: tuple[int, int] | None = None

    def token(self) -> None:
        if self._first is None:
            self._first = time.perf_counter()
            seconds = self._first - self._start
            self._metrics.first_token_seconds.labels(self._model).observe(seconds)

    def usage(self, prompt: int, completion: int) -> None:
        self._usage = (prompt, completion)  # the last report wins, as in the reply

    def end(self, finish: str) -> None:
        metrics, model = self._metrics, self._model
        metrics.generations.labels(model, finish).inc()
        if self._usage is None:
            return
        prompt, completion = self._usage
        metrics.prompt_tokens.labels(model).inc(max(prompt, 0))
        metrics.generated_tokens.labels(model).inc(max(completion, 0))
        if self._first is not None and completion > 1:
            seconds = time.perf_counter() - self._first
            if seconds > 0:
                metrics.tokens_per_second.labels(model).observe((completion - 1) / seconds)


class _RuntimeCollector(Collector):
    """Slots, queues, restarts and memory of the model runners, as they are right now."""

    def __init__(self) -> None:
        self.source: RuntimeSource = list

    def collect(self) -> Iterator[Metric]:
        slots = GaugeMetricFamily(
            "roost_model_slots", "Sequences a model's runner decodes in one batch", labels=["model"]
        )
        busy = GaugeMetricFamily("roost_model_slots_busy", "Slots generating now", labels=["model"])
        queued = GaugeMetricFamily(
            "roost_model_queued_requests", "Requests waiting for a free slot", labels=["model"]
        )
        restarts = CounterMetricFamily(
            "roost_model_runner_restarts",
            "Runner processes that died and were replaced since the server started",
            labels=["model"],
        )
        memory = GaugeMetricFamily(
            "roost_model_resident_memory_bytes", "Resident memory of the runner", labels=["model"]
        )
        state = GaugeMetricFamily(
            "roost_model_state",
            "1 for the runner's state: idle, loading, ready, restarting or unavailable",
            labels=["model", "state"],
        )
        try:
            runtimes = list(self.source())
        except Exception as exc:  # one broken status must not fail the whole scrape
            log.warning("metrics: could not read the model runners: %s", exc)
            runtimes = []
        for name, status in runtimes:
            slots.add_metric([name], status.slots)
            busy.add_metric([name], status.slots_busy)
            queued.add_metric([name], status.queued)
            restarts.add_metric([name], status.restarts)
            if status.rss_bytes is not None:
                memory.add_metric([name], status.rss_bytes)
            state.add_metric([name, status.state], 1)
        yield from (slots, busy, queued, restarts, memory, state)
