"""The `roost` command: serve, daemon, chat, ask, users, keys, config, version.

Each module holds one command group. Heavy imports (the web app, uvicorn, the services,
cryptography, httpx) happen inside the commands that need them, so that `roost --help`
and `roost serve` start quickly.
"""
