"""keep_alive, with Ollama's meaning: how long an idle local model stays loaded.

A duration ("5m", "1h30m", "30s", "500ms"), or a number of seconds; 0 unloads the model as
soon as the request is done, a negative value keeps it loaded for good. Parsed into
seconds: FOREVER (-1.0) for any negative value.
"""

from __future__ import annotations

import math
import re

FOREVER = -1.0
MAX_SECONDS = 365 * 86_400.0  # a year: a bound on what a client may ask for
MAX_CHARS = 32

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
HELP = (
    'a duration such as "5m", "30s" or "1h", or a number of seconds (0: unload at once, -1: never)'
)


def parse(value: object) -> float:
    """Seconds to keep an idle model loaded (FOREVER: never unload); ValueError when the
    value is not a keep_alive or asks for more than a year."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"keep_alive must be {HELP}")
    seconds = _parse_text(value) if isinstance(value, str) else float(value)
    if math.isnan(seconds):
        raise ValueError(f"keep_alive must be {HELP}")
    if seconds < 0:
        return FOREVER
    if seconds > MAX_SECONDS:
        raise ValueError("keep_alive must be at most a year (8760h); -1 keeps the model loaded")
    return seconds


def _parse_text(value: str) -> float:
    text = value.strip()
    if not text or len(text) > MAX_CHARS:
        raise ValueError(f"keep_alive must be {HELP}")
    if _NUMBER.match(text):
        return float(text)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    total, end = 0.0, 0
    for match in _PART.finditer(body):
        if match.start() != end:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        end = match.end()
    if end != len(body) or not body:
        raise ValueError(f"keep_alive must be {HELP}; got {value[:MAX_CHARS]!r}")
    return sign * total


def describe(seconds: float) -> str:
    """For people: "forever", "0s", "5m", "1h30m", "2.5s"."""
    if seconds < 0:
        return "forever"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or not hours else "")
