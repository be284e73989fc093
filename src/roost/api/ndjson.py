"""`application/x-ndjson` streams (one JSON object a line), as Ollama's API answers.

The sending, the hang-up watch and the closing of the line source are the SSE stream's
(api/sse.py): a client that leaves cancels the stream, which closes its source. NDJSON has
no comment line to keep a quiet connection open: a source that may go quiet repeats its
last line instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from roost.api.sse import EventStream

# Never: a keep-alive comment would be a line that is not JSON.
_NO_COMMENTS = 365 * 24 * 3600.0
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def line(payload: Any) -> str:
    return _encode(payload) + "\n"


class NdjsonStream(EventStream):
    media_type = "application/x-ndjson"

    def __init__(self, lines: AsyncIterator[str], *, deferred: bool = False) -> None:
        """`deferred`: the 200 goes out with the first line, so an error raised before it
        is still a plain HTTP error (api/sse.py)."""
        super().__init__(lines, _NO_COMMENTS, deferred=deferred)
