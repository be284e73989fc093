"""MemGPT's message envelopes: what the model reads for a user message, a heartbeat, a
system alert and a function's return (JSON objects with a type and a local time)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

HIDDEN = "[This is an automated system message hidden from the user] "
HEARTBEAT_REASON = f"{HIDDEN}Function called using request_heartbeat=true, returning control"
FAILED_REASON = f"{HIDDEN}Function call failed, returning control"


def _time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %I:%M:%S %p %Z%z").strip()


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def kind(packed: str) -> str | None:
    """The `type` of a packed envelope ("user_message", "heartbeat"...), None if not one."""
    try:
        payload = json.loads(packed)
    except ValueError:
        return None
    found = payload.get("type") if isinstance(payload, dict) else None
    return found if isinstance(found, str) else None


def user_message(text: str, when: datetime) -> str:
    return _dump({"type": "user_message", "message": text, "time": _time(when)})


def system_alert(text: str, when: datetime) -> str:
    return _dump({"type": "system_alert", "message": text, "time": _time(when)})


def heartbeat(failed: bool, when: datetime) -> str:
    reason = FAILED_REASON if failed else HEARTBEAT_REASON
    return _dump({"type": "heartbeat", "reason": reason, "time": _time(when)})


def function_return(output: str, ok: bool, when: datetime) -> str:
    status = "OK" if ok else "Failed"
    return _dump({"status": status, "message": output, "time": _time(when)})


def unpack(text: str) -> str:
    """The human-readable part of a stored envelope (the text itself if it is none)."""
    if not text.startswith("{"):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict):
        for key in ("message", "reason"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return text
