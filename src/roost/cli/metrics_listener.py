"""The `[metrics]` listener: GET /metrics without a key, on an address of its own,
serving only api/metrics.py's listener (behind the Host check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from roost.cli.side_listener import SideListener
from roost.config import Settings

if TYPE_CHECKING:
    from roost.core.metrics import Metrics


class MetricsListener(SideListener):
    name = "metrics"
    access_log = False  # a scrape every few seconds is not news

    def __init__(self, settings: Settings, find: Callable[[], Metrics | None]) -> None:
        """Binds `[metrics] bind`:`port` now (OSError when it cannot)."""
        super().__init__(settings, settings.metrics.bind, settings.metrics.port)
        self._find = find

    @property
    def url(self) -> str:
        return super().url + "/metrics"

    def app(self) -> ASGIApp:
        # Imported here: the web stack loads after the main port is open (cli/deferred.py).
        from roost.api.guards import HostGuard
        from roost.api.metrics import listener

        settings = self._settings
        return HostGuard(
            listener(self._find), bind=settings.metrics.bind, extra=settings.server.allowed_hosts
        )
