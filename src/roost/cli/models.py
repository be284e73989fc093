"""`roost models`: every configured model, and whether it can be used right now.

Probes run in-process and concurrently (no server needed): a GGUF file must be readable, a
remote API must answer its model list. Nothing is loaded or generated. When a server runs
on the same home, its llama.cpp runners' states come from the file it keeps there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from roost.cli.display import JsonOption, print_json, print_table
from roost.cli.errors import EXIT_ERROR, reports_errors
from roost.config import ModelSettings, Settings, load_settings
from roost.core.errors import ConfigError, RoostError

PROBE_DEADLINE = 5.0  # seconds for each probe; remote providers give up after 3 of them


def _where(model: ModelSettings, settings: Settings, provider: Any) -> dict[str, Any]:
    """Upstream model and URL for remote models, the GGUF file for llama.cpp ones."""
    if model.provider == "llamacpp":
        if model.path:
            path = Path(model.path).expanduser()
            path = path if path.is_absolute() else settings.home / path
        else:
            from roost.providers.llamacpp import embedded_model_path

            try:
                path = embedded_model_path()
            except ConfigError:
                path = Path("(built-in SmolLM2)")
        return {"model": None, "base_url": None, "path": str(path)}
    # The provider knows its SDK's default URL; one that could not be built does not.
    base_url = getattr(provider, "base_url", None) or model.base_url
    return {"model": model.model, "base_url": base_url, "path": None}


async def _probe(name: str, settings: Settings, registry: Any) -> dict[str, Any]:
    model = settings.models[name]
    provider: Any = None
    try:
        _, provider = registry.get(name)
        async with asyncio.timeout(PROBE_DEADLINE):
            reason = await provider.probe()
    except RoostError as exc:  # a model that cannot even be built: no file, no key
        reason = exc.message
    except TimeoutError:
        reason = f"no answer within {PROBE_DEADLINE:g} s"
    if provider is not None:
        window: int | None = provider.context_window
    else:
        window = model.n_ctx if model.provider == "llamacpp" else model.context_window
    return {
        "name": name,
        "provider": model.provider,
        **_where(model, settings, provider),
        "context_window": window,
        "default": name == settings.default_model,
        "ok": reason is None,
        "status": reason or "ok",
    }


async def probe_all(settings: Settings) -> list[dict[str, Any]]:
    """One row per configured model, probed concurrently, with the state of its process
    in a running server (`runner`: null when no server on this home runs it)."""
    from roost.providers.registry import ProviderRegistry
    from roost.providers.runner.statefile import read_all

    registry = ProviderRegistry(settings)
    try:
        names = sorted(settings.models)
        rows = list(await asyncio.gather(*(_probe(n, settings, registry) for n in names)))
    finally:
        await registry.close()
    runners = read_all(settings.home)
    for row in rows:
        row["runner"] = runners.get(row["name"])
        if row["runner"] is not None and row["runner"]["state"] == "unavailable":
            row["ok"] = False
            row["status"] = f"unavailable: {row['runner']['last_error']}"
    return rows


def _runner(row: dict[str, Any]) -> str:
    """`ready (pid 123), 1 restart`: the model's process in the running server."""
    runner = row.get("runner")
    if runner is None:
        return "-"
    state = str(runner["state"])
    if runner.get("pid"):
        state += f" (pid {runner['pid']})"
    restarts = int(runner.get("restarts") or 0)
    if restarts:
        state += f", {restarts} restart{'s' if restarts != 1 else ''}"
    return state


def _upstream(row: dict[str, Any]) -> str:
    if row["path"] is not None:
        return str(row["path"])
    return f"{row['model']} @ {row['base_url']}" if row["base_url"] else str(row["model"])


@reports_errors
def models(as_json: JsonOption = False) -> None:
    """List the configured models and check each can be reached.

    Exits 0 when every model is usable, 1 when any is not.
    """
    rows = asyncio.run(probe_all(load_settings()))
    if as_json:
        print_json(rows)
    else:
        from rich.markup import escape  # reasons quote "[models.NAME]", which rich would eat

        table = [
            [
                escape(r["name"]),
                r["provider"],
                escape(_upstream(r)),
                str(r["context_window"] or "-"),
                "yes" if r["default"] else "",
                escape(r["status"]),
                escape(_runner(r)),
            ]
            for r in rows
        ]
        print_table(
            ["NAME", "PROVIDER", "MODEL", "CONTEXT", "DEFAULT", "STATUS", "PROCESS"],
            table,
            "No models.",
        )
    failed = [r["name"] for r in rows if not r["ok"]]
    if failed:
        typer.echo(f"roost: not reachable: {', '.join(failed)}", err=True)
        raise typer.Exit(EXIT_ERROR)
