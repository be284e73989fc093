"""Every model roost knows: the `[models.*]` tables of config.toml and the pulled models of
the store, as one map of name → ModelSettings.

A pulled model needs no table: its path is the store's file. A table under the same name
overrides only the keys it sets (its `n_ctx`, `parallel`, `tools`...). A llama.cpp model
whose table leaves `n_ctx` unset gets its GGUF's trained context, capped (gguf_info).
"""

from __future__ import annotations

import logging

from roost.config import EMBEDDED_MODEL, ModelSettings, Settings
from roost.core.errors import ConfigError, Conflict, NotFound
from roost.providers import gguf_info
from roost.providers.store.manifest import ModelStore, StoredModel

log = logging.getLogger(__name__)


class ModelCatalog:
    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self._settings = settings
        self.store = store or ModelStore.for_home(settings.home)
        self._resolved: dict[str, tuple[object, ModelSettings]] = {}

    def _stored(self) -> dict[str, StoredModel]:
        try:
            return self.store.models()
        except ConfigError as exc:  # a damaged manifest must not take the configured models
            log.error("%s", exc.message)
            return {}

    def names(self) -> list[str]:
        return sorted(set(self._settings.models) | set(self._stored()))

    def stored(self, name: str) -> StoredModel | None:
        return self._stored().get(name)

    def configured(self, name: str) -> bool:
        return name in self._settings.models

    def removable(self, name: str) -> StoredModel:
        """The pulled model `name`, which `roost models rm` and DELETE /api/models may
        delete; Conflict for the built-in or a config.toml model, NotFound otherwise."""
        pulled = self.stored(name)
        if pulled is not None:
            return pulled
        if name == EMBEDDED_MODEL:
            raise Conflict(f"'{name}' is roost's built-in model, not a pulled one")
        if self.configured(name):
            raise Conflict(
                f"'{name}' is not a pulled model: it is set up in config.toml; delete its "
                "[models] table there to remove it"
            )
        raise NotFound(f"no pulled model named '{name}'")

    def get(self, name: str) -> ModelSettings | None:
        """The model's settings with its table laid over the store's defaults; None when
        no such model exists."""
        table = self._settings.models.get(name)
        pulled = self._stored().get(name)
        if table is None and pulled is None:
            return None
        key: object = (id(table), pulled)
        cached = self._resolved.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        resolved = self._resolve(table, pulled)
        self._resolved[name] = (key, resolved)
        return resolved

    def _resolve(self, table: ModelSettings | None, pulled: StoredModel | None) -> ModelSettings:
        if pulled is not None:
            base = ModelSettings(path=str(self.store.model_path(pulled)))
            own = {k: getattr(table, k) for k in table.model_fields_set} if table else {}
            model = base.model_copy(update=own)
        else:
            assert table is not None
            model = table
        if model.provider == "llamacpp" and "n_ctx" not in model.model_fields_set:
            n_ctx = self._file_context(model)
            if n_ctx is not None:
                model = model.model_copy(update={"n_ctx": max(128, n_ctx)})
        return model

    def _file_context(self, model: ModelSettings) -> int | None:
        """The GGUF's own (capped) context; None for the embedded model's file or a file
        that cannot be read (loading it reports that, naming the model)."""
        if not model.path:
            return None
        from pathlib import Path

        path = Path(model.path).expanduser()
        if not path.is_absolute():
            path = self._settings.home / path
        try:
            return gguf_info.read(path).default_n_ctx
        except ConfigError:
            return None


def check_default(settings: Settings) -> None:
    """default_model must name a model of config.toml or of the store (checked when a
    command starts; tests that install their own providers skip it)."""
    names = ModelCatalog(settings).names()
    if settings.default_model not in names:
        raise ConfigError(
            f"default_model '{settings.default_model}' is not one of the models "
            f"({', '.join(names)}) in {settings.config_path}"
        )
