"""GET /api/tags, POST /api/show, GET /api/ps, GET /api/version: the models as Ollama
lists them, from what roost knows (config.toml, the model store, the GGUF header).

Nothing here is a user's data: every user sees the same models and the same loaded
ones, as with Ollama's and roost's own /api/ps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter

from roost.api import docs
from roost.api.deps import ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.api.ollama import convert, schemas
from roost.api.ollama.auth import PrincipalDep
from roost.core.errors import InvalidRequest
from roost.services.container import Services
from roost.services.loaded import rfc3339
from roost.services.model_details import ModelDetails, describe

# Clients gate features on the server's version (Open WebUI compares it): a recent one.
OLLAMA_VERSION = "0.13.0"
THINKING_PROVIDERS = ("openai", "anthropic")  # they report reasoning apart from the answer

router = APIRouter(tags=["ollama"], route_class=JsonBodyRoute)


def can_think(services: Services, model: str) -> bool:
    """roost's llama.cpp runner does not split a model's reasoning from its answer (yet):
    only remote models whose APIs do can think."""
    settings = services.providers.settings_for(model)
    return settings is not None and settings.provider in THINKING_PROVIDERS


def capabilities(services: Services, model: str) -> list[str]:
    settings = services.providers.settings_for(model)
    kind = settings.provider if settings is not None else None
    if kind == "sentence-transformers":
        return ["embedding"]
    found = ["completion", "tools"]
    if kind == "llamacpp":
        found.append("embedding")  # a GGUF embeds in a second context (llamacpp_embed.py)
    if can_think(services, model):
        found.append("thinking")
    return found


def details(about: ModelDetails) -> dict[str, Any]:
    gguf = about.gguf
    family = gguf.get("architecture") or ""
    return {
        "parent_model": "",
        "format": "gguf" if about.provider == "llamacpp" else "",
        "family": family,
        "families": [family] if family else None,
        "parameter_size": gguf.get("parameters_text") or "",
        "quantization_level": gguf.get("quantization") or "",
    }


def _digest(about: ModelDetails) -> str:
    if about.pulled is not None and about.pulled.files:
        return str(about.pulled.files[0]["sha256"])
    return ""  # a config.toml file: roost has not hashed it


def _modified(about: ModelDetails, started: int) -> str:
    when = about.pulled.pulled_at if about.pulled is not None else started
    return rfc3339(when) or ""


@router.get("/api/tags", response_model=None, responses=docs.ok(schemas.TagList))
async def tags(services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    listed = []
    for info in services.models.list():
        about = _about(services, info.name)
        listed.append(
            {
                "name": convert.tagged(info.name),
                "model": convert.tagged(info.name),
                "modified_at": _modified(about, info.created),
                "size": info.size or about.size or 0,
                "digest": _digest(about),
                "details": details(about),
            }
        )
    return {"models": listed}


def _started(services: Services, name: str) -> int:
    return next((i.created for i in services.models.list() if i.name == name), 0)


def _about(services: Services, name: str) -> ModelDetails:
    if services.providers.settings_for(name) is None:  # installed directly (tests)
        return ModelDetails(name, "scripted", False, None, None, None, None, None)
    return describe(services.providers, name)


def model_info(about: ModelDetails, context_window: int | None) -> dict[str, Any]:
    """The GGUF header's keys under Ollama's names (`<arch>.context_length` is what
    clients read for the window); a remote model's architecture is its provider."""
    gguf = about.gguf
    arch = gguf.get("architecture") or about.provider
    found = {
        "general.architecture": arch,
        "general.name": gguf.get("name"),
        "general.parameter_count": gguf.get("parameters"),
        f"{arch}.context_length": gguf.get("context_length") or context_window,
        f"{arch}.embedding_length": gguf.get("embedding_length"),
        f"{arch}.block_count": gguf.get("block_count"),
        f"{arch}.attention.head_count": gguf.get("head_count"),
        f"{arch}.attention.head_count_kv": gguf.get("head_count_kv"),
    }
    return {key: value for key, value in found.items() if value is not None}


def _modelfile(about: ModelDetails, template: str) -> str:
    # The file's name, not its path: a user's key need not learn the server's folders.
    source = Path(about.path).name if about.path else about.name
    if about.pulled is not None:
        source = about.pulled.repo
    lines = ["# Modelfile generated by roost", f"FROM {source}"]
    if template:
        lines.append(f'TEMPLATE """{template}"""')
    if about.n_ctx:
        lines.append(f"PARAMETER num_ctx {about.n_ctx}")
    return "\n".join(lines) + "\n"


@router.post("/api/show", response_model=None, responses=docs.ok(schemas.ShowResponse))
async def show(body: schemas.ShowBody, services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    asked = body.model or body.name
    if not asked:
        raise InvalidRequest("model is required", param="model")
    name = convert.resolve(asked, services.providers.names())
    about = _about(services, name)
    settings = services.providers.settings_for(name)
    window = about.n_ctx or (settings.context_window if settings is not None else None)
    template = about.gguf.get("chat_template") or ""
    shown: dict[str, Any] = {
        "modelfile": _modelfile(about, template),
        "parameters": f"num_ctx                        {window}" if window else "",
        "template": template,
        "details": details(about),
        "model_info": model_info(about, window),
        "capabilities": capabilities(services, name),
        "modified_at": _modified(about, _started(services, name)),
    }
    if about.gguf.get("license"):
        shown["license"] = about.gguf["license"]
    return shown


@router.get("/api/ps", response_model=None, responses=docs.ok(schemas.RunningList))
async def ps(services: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": convert.tagged(m.name),
                "model": convert.tagged(m.name),
                "size": m.size,
                "digest": m.digest,
                "details": m.details or details(_about(services, m.name)),
                "expires_at": m.expires_at,
                "size_vram": m.size_vram,
                "context_length": m.context_length,
            }
            for m in services.loaded.list()
        ]
    }


@router.get("/api/version", response_model=None, responses=docs.ok(schemas.Version))
async def version() -> dict[str, str]:
    """Ollama's version roost answers as (no key needed, as Ollama's: clients probe it)."""
    return {"version": OLLAMA_VERSION}
