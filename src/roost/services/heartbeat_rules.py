"""The heartbeat's rules, free of I/O: open tasks in HEARTBEAT.md, the interval, the active
hours, the prompt, and how to read the model's answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roost.config import HeartbeatSettings
from roost.core.errors import ConfigError

HEARTBEAT_OK = "HEARTBEAT_OK"
MAX_TASKS = 50  # a prompt holds at most this many tasks; the rest wait for later ticks
MAX_TASK_CHARS = 500
MIN_INTERVAL_SECONDS = 1.0

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # an unclosed comment runs to the end
_FENCE = re.compile(r"^\s*(```|~~~)")
_OPEN_TASK = re.compile(r"^\s{0,3}[-*+]\s+\[ \]\s+(\S.*?)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

PROMPT = """This is a scheduled heartbeat check. The open tasks in HEARTBEAT.md are:

{tasks}

Work through them now, using your tools where a task needs them. When you finish a task,
tick it off in HEARTBEAT.md: change its "- [ ]" to "- [x]". Then say briefly what you did.
If none of these tasks needs doing right now, answer exactly {ok} and nothing else."""


def open_tasks(markdown: str) -> list[str]:
    """The `- [ ] ...` lines of HEARTBEAT.md, outside HTML comments and code blocks."""
    tasks: list[str] = []
    in_fence = False
    for line in _COMMENT.sub("", markdown).splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        found = None if in_fence else _OPEN_TASK.match(line)
        if found:
            task = found.group(1)
            tasks.append(task if len(task) <= MAX_TASK_CHARS else task[: MAX_TASK_CHARS - 1] + "…")
    return tasks


def prompt_for(tasks: list[str]) -> str:
    shown = tasks[:MAX_TASKS]
    lines = [f"- [ ] {task}" for task in shown]
    if len(tasks) > len(shown):
        lines.append(f"(and {len(tasks) - len(shown)} more, for a later heartbeat)")
    return PROMPT.format(tasks="\n".join(lines), ok=HEARTBEAT_OK)


def is_ok(reply: str) -> bool:
    """Whether the model said there was nothing to do (markdown and punctuation forgiven)."""
    return reply.strip().strip("*_`'\".!").strip() == HEARTBEAT_OK


def interval_seconds(settings: HeartbeatSettings, where: str) -> float:
    found = _INTERVAL.match(settings.interval.strip())
    if found is None:  # the settings pattern already refuses these
        raise ConfigError(f"[heartbeat] interval in {where}: cannot read '{settings.interval}'")
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds < MIN_INTERVAL_SECONDS:
        raise ConfigError(
            f"[heartbeat] interval in {where} must be at least 1s (got '{settings.interval}')"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class ActiveHours:
    """A daily window in one time zone; an end before the start wraps past midnight."""

    start: int  # minutes after midnight
    end: int
    zone: tzinfo | None  # None: the server's local zone
    text: str  # "08:00-22:00 Europe/Paris", for skip reasons

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone) if self.zone is not None else now.astimezone()
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def zone(settings: HeartbeatSettings, where: str) -> tzinfo | None:
    if settings.timezone is None:
        return None
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"[heartbeat] timezone in {where}: unknown time zone '{settings.timezone}'"
        ) from None


def active_hours(settings: HeartbeatSettings, where: str) -> ActiveHours | None:
    window = settings.active_hours
    if window is None:
        return None
    key = f"[heartbeat] active_hours in {where}"
    if set(window) != {"start", "end"}:
        raise ConfigError(f'{key} must be {{start = "HH:MM", end = "HH:MM"}} (got {window})')
    for name in ("start", "end"):
        if not _CLOCK.match(window[name]) or (name == "start" and window[name] == "24:00"):
            raise ConfigError(f"{key}: {name} must be a time HH:MM (got '{window[name]}')")
    start, end = _minutes(window["start"]), _minutes(window["end"])
    if start == end:
        raise ConfigError(f"{key}: start and end are the same time (leave it unset for all day)")
    tz = zone(settings, where)
    label = f"{window['start']}-{window['end']} {settings.timezone or 'local time'}"
    return ActiveHours(start, end, tz, label)


def clip(text: str, limit: int = 1000) -> str:
    """One line for the daily log: a reply must not open headings or lists of its own."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
