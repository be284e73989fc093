"""When an idle local model unloads: Ollama's keep_alive.

Every call on the model (a chat, a token count, an embedding, a slot wait) is in flight
from `begin` to `end`. When the last one ends, the model's keep-alive starts: after it the
runner stops, unless a call came meanwhile. A chat sets the keep-alive as it begins (as
Ollama's scheduler does: the latest request's wins): its request's `keep_alive`, else the
model's own ([models.NAME] keep_alive, else [runners] keep_alive); the server's own calls
(token counts, embeddings) keep the one set last, and `stop` sets 0. 0 unloads as soon as
the model is idle; FOREVER never does. A model unloaded starts again from its own
keep-alive when it is next loaded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Lifetime:
    def __init__(
        self,
        default: float,
        unload: Callable[[], asyncio.Task[None] | None],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.default = default  # seconds; negative: never
        self._duration = default
        self._unload = unload
        self._on_change = on_change
        self.inflight = 0
        self.last_used = 0.0  # monotonic: the least recently used idle model goes first
        self._timer: asyncio.TimerHandle | None = None
        self._expires_at: float | None = None  # wall clock, for people

    def begin(self, keep_alive: float | None = None, *, sets: bool = False) -> None:
        """`sets`: a chat, whose `keep_alive` (None: the model's own) applies from now."""
        self.inflight += 1
        if sets:
            self._duration = self.default if keep_alive is None else keep_alive
        self.last_used = time.monotonic()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def end(self) -> asyncio.Task[None] | None:
        """The unload under way when the model unloads at once (keep-alive 0)."""
        self.inflight -= 1
        self.last_used = time.monotonic()
        if self.inflight:
            return None
        if self._duration < 0:
            self._expires_at = None
            self._on_change()
            return None
        if self._duration == 0:
            return self.expire()
        self._expires_at = time.time() + self._duration
        self._timer = asyncio.get_running_loop().call_later(self._duration, self._fire)
        self._on_change()
        return None

    def _fire(self) -> None:
        self._timer = None
        if self.inflight == 0:
            self.expire()

    def stop(self) -> asyncio.Task[None] | None:
        """Unload as soon as the model is idle (now, if it is): Ollama's `stop`, a
        keep-alive of 0 from now."""
        self._duration = 0.0
        return None if self.inflight else self.expire()

    def expire(self) -> asyncio.Task[None] | None:
        """Unload now (the caller knows the model is idle)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._expires_at = None
        self._duration = self.default
        return self._unload()

    def expires_at(self) -> float | None:
        """When a loaded model unloads if nothing uses it (unix time); None: never. In use,
        its keep-alive from now: it stays at least that long."""
        if self._duration < 0:
            return None
        if self.inflight:
            return time.time() + self._duration
        return self._expires_at

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
