"""Stop strings in a token stream: hold back text that may be the start of one."""

from __future__ import annotations


class StopScanner:
    def __init__(self, stops: list[str]) -> None:
        self._stops = [s for s in stops if s]
        self._pending = ""
        self.hit: str | None = None  # the stop string reached (Anthropic's stop_sequence)

    def feed(self, piece: str) -> tuple[str, bool]:
        """Return (text safe to emit, whether a stop string was reached)."""
        if not self._stops:
            return piece, False
        buffer = self._pending + piece
        found = [(buffer.find(s), s) for s in self._stops if s in buffer]
        if found:
            cut, self.hit = min(found)
            self._pending = ""
            return buffer[:cut], True
        hold = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(buffer)), 0, -1):
                if buffer.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest
