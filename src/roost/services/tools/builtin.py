"""The nine built-in tools, by name. Which of them a model may call is the registry's call
(`[tools] enabled`, a model's own `tools`); bash and web_fetch also check their switch."""

from __future__ import annotations

from roost.services.tools.base import Tool
from roost.services.tools.bash import Bash
from roost.services.tools.file_tools import EditFile, ReadFile, WriteFile
from roost.services.tools.memory_tools import MemoryAppend, MemoryGet, MemorySearch, MemoryWrite
from roost.services.tools.web_fetch import Fetcher, WebFetch


def builtin_tools(fetcher: Fetcher) -> dict[str, Tool]:
    """Every built-in tool, keyed by its name; `fetcher` is what web_fetch uses
    (`roost.providers.fetch.WebFetcher()` in the server)."""
    tools: list[Tool] = [
        MemorySearch(),
        MemoryGet(),
        MemoryWrite(),
        MemoryAppend(),
        ReadFile(),
        WriteFile(),
        EditFile(),
        Bash(),
        WebFetch(fetcher),
    ]
    return {tool.spec.name: tool for tool in tools}
