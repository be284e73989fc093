"""`python -m tests.fuzz.app PORT`: roost's real app and HTTP server with the scripted model.

The fuzz target: everything `roost serve` runs (uvicorn, the middleware, the lifespan with
its database, inbox worker and heartbeat), with the echoing scripted model instead of a
GGUF so that thousands of chat requests take seconds. ROOST_HOME, ROOST_SERVER_PASS and
any other ROOST_ setting (e.g. ROOST_DATABASE_URL for PostgreSQL) come from the environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn

from roost.app import create_app
from roost.config import Settings, load_settings
from roost.providers.base import ChatRequest
from roost.providers.registry import ProviderRegistry
from roost.providers.scripted import Script, ScriptedProvider, reply


def echo(request: ChatRequest) -> Script:
    last = request.messages[-1].content if request.messages else ""
    return reply(f"you said: {last[:200]}")


def registry(settings: Settings) -> ProviderRegistry:
    found = ProviderRegistry(settings)
    found.install("scripted", ScriptedProvider(echo, name="scripted"))
    return found


def main() -> None:
    port = int(sys.argv[1])
    home = Path(os.environ["ROOST_HOME"])
    env = {k: v for k, v in os.environ.items() if k.startswith("ROOST_")}
    settings = load_settings(home=home, env=env)
    settings.default_model = "scripted"
    app = create_app(settings, admin_password=os.environ["ROOST_SERVER_PASS"], providers=registry)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
