"""`roost ps`: the local models a running server has loaded, as `ollama ps` prints them.

Read from the runner state file the server keeps in $ROOST_HOME/run (as `roost models`
does): no key and no request, and a server that is not running has nothing loaded. The
memory each runner holds now (`rss`, in --json) is read from /proc.
"""

from __future__ import annotations

import time
from typing import Any

from roost.cli.display import JsonOption, print_json, print_table
from roost.cli.errors import reports_errors
from roost.config import default_home

LOADED_STATES = ("loading", "ready", "restarting")


def _rss(pid: Any) -> int | None:
    if not isinstance(pid, int):
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def loaded() -> list[dict[str, Any]]:
    from roost.providers.runner.statefile import read_all

    rows = []
    for name, state in sorted(read_all(default_home()).items()):
        if state.get("state") not in LOADED_STATES:
            continue
        rows.append(
            {
                "name": name,
                "state": state["state"],
                "size": int(state.get("memory_bytes") or 0),
                "rss": _rss(state.get("pid")),
                "pid": state.get("pid"),
                "expires_at": state.get("expires_at"),
                "slots": state.get("slots", 0),
                "slots_busy": state.get("slots_busy", 0),
                "queued": state.get("queued", 0),
                "server_pid": state.get("server_pid"),
            }
        )
    return rows


def until(row: dict[str, Any], now: float) -> str:
    """`4 minutes from now`, `Forever`, as `ollama ps` says it."""
    if row["state"] != "ready":
        return str(row["state"]).capitalize()
    expires = row["expires_at"]
    if expires is None:
        return "Forever"
    left = float(expires) - now
    if left < 1:
        return "Stopping..."
    for unit, seconds in (("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if left >= seconds:
            count = int(left // seconds)
            return f"{count} {unit}{'s' if count != 1 else ''} from now"
    return "Stopping..."


@reports_errors
def ps(as_json: JsonOption = False) -> None:
    """List the models the running server has loaded: memory, and when each unloads."""
    from roost.cli.models import size_text
    from roost.services.loaded import rfc3339

    rows = loaded()
    if as_json:
        print_json([{**r, "expires_at": rfc3339(r["expires_at"])} for r in rows])
        return
    now = time.time()
    print_table(
        ["NAME", "SIZE", "PROCESSOR", "UNTIL"],
        [[r["name"], size_text(r["size"]), "100% CPU", until(r, now)] for r in rows],
        "No models are loaded.",
    )
