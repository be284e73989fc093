"""What one model is: where it came from (pulled or config.toml), its file, and what the
GGUF says about itself. `roost models show` prints it; the Ollama dialect's /api/show
renders the same record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.config import EMBEDDED_MODEL
from roost.core.errors import ConfigError, ModelNotFound
from roost.providers import gguf_info
from roost.providers.registry import ProviderRegistry


@dataclass(frozen=True, slots=True)
class Source:
    """A pulled model's origin, from the store's manifest."""

    repo: str
    revision: str
    endpoint: str | None
    pulled_at: float
    files: list[dict[str, Any]]  # name, size, sha256


@dataclass(frozen=True, slots=True)
class ModelDetails:
    name: str
    provider: str
    configured: bool  # has a [models.NAME] table in config.toml
    pulled: Source | None
    path: str | None  # the GGUF llama.cpp opens (a split's first part)
    size: int | None  # bytes on disk, every part
    n_ctx: int | None  # the window roost gives it
    parallel: int | None
    gguf: dict[str, Any] = field(default_factory=dict)  # what the file says; {} for remote
    problem: str | None = None  # why the file cannot be read, if it cannot

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "provider": self.provider,
            "configured": self.configured,
            "pulled": None,
            "path": self.path,
            "size": self.size,
            "n_ctx": self.n_ctx,
            "parallel": self.parallel,
            "gguf": self.gguf,
            "problem": self.problem,
        }
        if self.pulled is not None:
            data["pulled"] = {
                "repo": self.pulled.repo,
                "revision": self.pulled.revision,
                "endpoint": self.pulled.endpoint,
                "pulled_at": self.pulled.pulled_at,
                "files": self.pulled.files,
            }
        return data


def gguf_summary(info: gguf_info.GgufInfo) -> dict[str, Any]:
    return {
        "architecture": info.architecture,
        "name": info.name,
        "parameters": info.parameters,
        "parameters_text": info.parameters_text(),
        "quantization": info.quantization,
        "context_length": info.context_length,
        "embedding_length": info.embedding_length,
        "block_count": info.block_count,
        "head_count": info.head_count,
        "head_count_kv": info.head_count_kv,
        "license": info.license,
        "chat_template": info.chat_template,
        "embedding_only": info.pooling,
        "parts": len(info.files),
    }


def describe(registry: ProviderRegistry, name: str) -> ModelDetails:
    model = registry.settings_for(name)
    if model is None:
        raise ModelNotFound(f"The model '{name}' does not exist")
    catalog = registry.catalog
    # The embedded model's table is built in, not the user's.
    configured = catalog.configured(name) and name != EMBEDDED_MODEL
    stored = catalog.stored(name)
    source = None
    if stored is not None:
        source = Source(
            stored.repo,
            stored.revision,
            stored.endpoint,
            stored.pulled_at,
            [{"name": Path(f.path).name, "size": f.size, "sha256": f.sha256} for f in stored.files],
        )
    if model.provider != "llamacpp":
        return ModelDetails(
            name,
            model.provider,
            configured,
            source,
            None,
            None,
            model.context_window,
            None,
        )
    path, summary, problem, size = None, {}, None, None
    try:
        path = _gguf_path(registry, name)
        info = gguf_info.read(path)
        summary, size = gguf_summary(info), info.size
    except ConfigError as exc:
        problem = exc.message
    return ModelDetails(
        name,
        model.provider,
        configured,
        source,
        str(path) if path is not None else None,
        size,
        model.n_ctx,
        model.parallel,
        summary,
        problem,
    )


def _gguf_path(registry: ProviderRegistry, name: str) -> Path:
    from roost.providers.llamacpp import model_path

    model = registry.settings_for(name)
    assert model is not None
    return model_path(name, model, registry.settings)
