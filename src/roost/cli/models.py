"""`roost models [list] | show NAME | rm NAME`: the models of config.toml and the store.

`list` probes in-process and concurrently (no server needed): a GGUF file must be readable,
a remote API must answer its model list. Nothing is loaded or generated. When a server runs
on the same home, its llama.cpp runners' states come from the file it keeps there, and it
sees a model removed here at its next request.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from roost.cli.display import JsonOption, print_json, print_table
from roost.cli.errors import EXIT_ERROR, fail, reports_errors
from roost.config import ModelSettings, Settings, load_settings
from roost.core.errors import ConfigError, RoostError

PROBE_DEADLINE = 5.0  # seconds for each probe; remote providers give up after 3 of them


app = typer.Typer(
    help="The models: config.toml's and the pulled ones (`roost pull`).",
    invoke_without_command=True,
)


def _where(model: ModelSettings, settings: Settings, provider: Any) -> dict[str, Any]:
    """Upstream model and URL for remote models, the GGUF file (its size and quantization
    from its header) for llama.cpp ones."""
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
        from roost.providers import gguf_info

        size, quant = None, None
        try:
            info = gguf_info.read(path)
            size, quant = info.size, info.quantization
        except ConfigError:
            pass  # the probe says why
        return {
            "model": None,
            "base_url": None,
            "path": str(path),
            "size": size,
            "quantization": quant,
        }
    # The provider knows its SDK's default URL; one that could not be built does not.
    base_url = getattr(provider, "base_url", None) or model.base_url
    return {
        "model": model.model,
        "base_url": base_url,
        "path": None,
        "size": None,
        "quantization": None,
    }


async def _probe(name: str, settings: Settings, registry: Any) -> dict[str, Any]:
    model = registry.settings_for(name)
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
        "pulled": registry.catalog.stored(name) is not None,
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
        names = registry.catalog.names()
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


def size_text(size: int | None) -> str:
    """A file's size as Ollama prints it; `-` when unknown."""
    from roost.core.sizes import decimal

    return "-" if size is None else decimal(size)


def _list(as_json: bool) -> None:
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
                size_text(r["size"]),
                r["quantization"] or "-",
                str(r["context_window"] or "-"),
                "yes" if r["default"] else "",
                escape(r["status"]),
                escape(_runner(r)),
            ]
            for r in rows
        ]
        print_table(
            [
                "NAME",
                "PROVIDER",
                "MODEL",
                "SIZE",
                "QUANT",
                "CONTEXT",
                "DEFAULT",
                "STATUS",
                "PROCESS",
            ],
            table,
            "No models.",
        )
    failed = [r["name"] for r in rows if not r["ok"]]
    if failed:
        typer.echo(f"roost: not reachable: {', '.join(failed)}", err=True)
        raise typer.Exit(EXIT_ERROR)


@app.callback()
@reports_errors
def models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the models and check each can be reached (the same as `roost models list`).

    Exits 0 when every model is usable, 1 when any is not.
    """
    if ctx.invoked_subcommand is None:
        _list(as_json)


@app.command("list")
@reports_errors
def list_models(as_json: JsonOption = False) -> None:
    """List the models (config.toml's and pulled ones) and check each can be reached.

    Exits 0 when every model is usable, 1 when any is not.
    """
    _list(as_json)


@app.command("show")
@reports_errors
def show(
    name: Annotated[str, typer.Argument(help="The model's name, as `roost models` lists it.")],
    as_json: JsonOption = False,
    template: Annotated[
        bool, typer.Option("--template", help="Print the whole chat template.")
    ] = False,
) -> None:
    """What a model is: where it came from and what its GGUF says about itself."""
    from roost.providers.registry import ProviderRegistry
    from roost.services.model_details import describe

    details = describe(ProviderRegistry(load_settings()), name)
    if as_json:
        print_json(details.to_json())
        return
    for label, value in show_lines(details.to_json(), template):
        typer.echo(f"{label:<16}{value}" if label else value)


def show_lines(data: dict[str, Any], template: bool) -> list[tuple[str, str]]:
    gguf = data["gguf"]
    lines: list[tuple[str, str]] = [("name", data["name"]), ("provider", data["provider"])]
    pulled = data["pulled"]
    if pulled is not None:
        lines.append(("pulled from", f"{pulled['repo']} @ {pulled['revision'][:12]}"))
        for part in pulled["files"]:
            lines.append(
                (
                    "file",
                    f"{part['name']} ({size_text(part['size'])}, sha256 {part['sha256'][:12]}…)",
                )
            )
    if data["configured"]:
        lines.append(("config", "[models] table in config.toml"))
    if data["path"]:
        lines.append(("path", data["path"]))
    if data["problem"]:
        lines.append(("problem", data["problem"]))
    if gguf:
        lines += [
            ("architecture", gguf["architecture"]),
            ("parameters", gguf["parameters_text"]),
            ("quantization", gguf["quantization"] or "-"),
            ("context length", f"{gguf['context_length'] or '-'} (roost uses {data['n_ctx']})"),
            ("embedding", str(gguf["embedding_length"] or "-")),
            ("layers", str(gguf["block_count"] or "-")),
            ("license", gguf["license"] or "-"),
            ("size", size_text(data["size"])),
        ]
        source = gguf["chat_template"]
        if source is None:
            lines.append(("chat template", "none in the file (ChatML is used)"))
        elif template:
            lines.append(("chat template", ""))
            lines.append(("", source))
        else:
            first = source.strip().splitlines()[0] if source.strip() else ""
            more = len(source) - len(first)
            lines.append(
                (
                    "chat template",
                    first[:100] + (f" … (+{more} chars; --template)" if more > 0 else ""),
                )
            )
    elif data["n_ctx"]:
        lines.append(("context window", str(data["n_ctx"])))
    return lines


@app.command("rm")
@reports_errors
def rm(
    names: Annotated[list[str], typer.Argument(help="Pulled models to remove.")],
) -> None:
    """Remove pulled models: their files are deleted (a file another name uses stays).

    A model from config.toml is not removed here: delete its [models.NAME] table.
    """
    from roost.providers.catalog import ModelCatalog

    settings = load_settings()
    catalog = ModelCatalog(settings)
    for name in names:
        catalog.removable(name)  # the built-in or a config.toml model: refused, saying why
        gone = catalog.store.remove(name)
        if gone is None:  # removed meanwhile (the server's DELETE, another rm)
            fail(f"no pulled model named '{name}'")
        typer.echo(f"deleted '{name}' ({size_text(gone.size)})")
        if catalog.configured(name):
            typer.echo(f"its [models] table in {settings.config_path} stays", err=True)
