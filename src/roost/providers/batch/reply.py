"""One request's tokens turned into provider events, on the batch engine's thread.

Decodes each token's bytes incrementally (a character may span tokens), holds back text
that could be the start of a stop string, ends the reply at an end-of-turn token, a stop
string or the token limit, and hands every event to the request's event loop.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import Callable
from typing import Any

from roost.providers.base import Finish, TextChunk, UsageChunk
from roost.providers.stops import StopScanner

END = object()  # the last item a reply puts on its queue


class Reply:
    def __init__(
        self,
        detokenize: Callable[[int], bytes],
        *,
        prompt_tokens: int,
        max_tokens: int,
        end_tokens: set[int],
        stops: list[str],
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[object],
    ) -> None:
        self._detokenize = detokenize
        self._prompt_tokens = prompt_tokens
        self._max_tokens = max_tokens
        self._end_tokens = end_tokens
        self._scanner = StopScanner(stops)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._loop = loop
        self._queue = queue
        self.completion = 0
        self.reason = "cancelled"  # unless the reply ends by itself

    def _put(self, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def on_token(self, token: int) -> bool:
        """Whether to go on after this sampled token."""
        if token in self._end_tokens:
            self.reason = "stop"
            return False
        self.completion += 1
        text, hit = self._scanner.feed(self._decoder.decode(self._detokenize(token)))
        if text:
            self._put(TextChunk(text))
        if hit:
            self.reason = "stop"
            return False
        if self.completion >= self._max_tokens:
            self.reason = "length"
            return False
        return True

    def on_end(self, error: BaseException | None, cached: int = 0) -> None:
        """`cached`: prompt tokens the slot already held, reported in the usage."""
        if error is not None:
            self._put(error)
        else:
            if self.reason != "stop":
                tail = self._scanner.flush() + self._decoder.decode(b"", final=True)
                if tail:
                    self._put(TextChunk(tail))
            self._put(UsageChunk(self._prompt_tokens, self.completion, cached))
            self._put(Finish(self.reason, self._scanner.hit))
        self._put(END)
