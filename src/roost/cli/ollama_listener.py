"""The `[ollama]` listener (`roost serve --ollama-port 11434`): Ollama's API at the root
of an address of its own, for clients that assume Ollama's. Each request goes to the main
app under /ollama (api/ollama/root.py), so its key, limits and errors are the main port's.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from roost.cli.side_listener import SideListener
from roost.config import Settings


class OllamaListener(SideListener):
    name = "ollama"

    def __init__(self, settings: Settings, find: Callable[[], ASGIApp | None]) -> None:
        """Binds `[ollama] bind`:`port` now (OSError when it cannot)."""
        super().__init__(settings, settings.ollama.bind, settings.ollama.port)
        self._find = find

    def app(self) -> ASGIApp:
        from roost.api.ollama import AtRoot  # the web stack loads after the main port opens

        return AtRoot(self._find)
