"""The bash tool in a process of its own, as a server runs it: `python -m
tests.services.tools.bash_child`.

/proc/<pid>/environ shows the environment a process was started with, so a test that
wants the tool's parent to hold a secret there (as `roost serve` holds ROOST_SERVER_PASS)
starts this process with it. Reads {"home", "workspace", "command", "settings"} as JSON
on stdin; prints {"ok": bool, "text": the result or the error message} on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, cast

from roost.config import Settings
from roost.services.memory.workspace import Workspace
from roost.services.tools.base import ToolContext, ToolError
from roost.services.tools.bash import Bash


async def main() -> None:
    request = json.loads(sys.stdin.read())
    tools = Settings(home=Path(request["home"])).tools.model_copy(update=request["settings"])
    # bash uses the workspace and the settings only; no user or memory service needed
    context = ToolContext(
        cast(Any, None), Workspace(Path(request["workspace"])), cast(Any, None), tools
    )
    try:
        answer = {"ok": True, "text": await Bash().run(context, {"command": request["command"]})}
    except ToolError as exc:
        answer = {"ok": False, "text": exc.message}
    print(json.dumps(answer))


if __name__ == "__main__":
    asyncio.run(main())
