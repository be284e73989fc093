"""Embeddings from a GGUF model: a second llama.cpp context opened in embedding mode.

llama.cpp fixes a context's mode when it is created, so the chat context cannot embed.
The embedding context is opened on first use only; it shares nothing with chat and has
its own lock, so embedding never waits for a long generation.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from roost.core.errors import ProviderError
from roost.providers import llamacpp_cpu
from roost.providers.base import Embeddings


class LlamaEmbedder:
    def __init__(self, name: str, path: Path, n_ctx: int, n_threads: int) -> None:
        self._name = name
        self._path = path
        self._n_ctx = n_ctx
        self._threads = n_threads
        self._llm: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llm is None:
            import llama_cpp

            try:
                self._llm = llamacpp_cpu.load(
                    llama_cpp.Llama,
                    self._path,
                    embedding=True,
                    # Decoder models declare no pooling; mean pooling gives one vector
                    # per input instead of one per token.
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    n_ctx=self._n_ctx,
                    n_batch=self._n_ctx,
                    n_ubatch=self._n_ctx,
                    n_threads=self._threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ProviderError(f"cannot load '{self._name}' for embeddings: {exc}") from exc
        return self._llm

    def _embed_sync(self, texts: list[str]) -> Embeddings:
        with self._lock:
            llm = self._load()
            vectors: list[list[float]] = []
            tokens = 0
            for text in texts:  # one at a time: a batch must fit n_batch as a whole
                count = len(llm.tokenize(text.encode("utf-8"), add_bos=True))
                if count > self._n_ctx:
                    raise ProviderError(
                        f"input of {count} tokens is longer than model '{self._name}' can "
                        f"embed ({self._n_ctx})"
                    )
                vector = llm.embed(text, normalize=True)
                vectors.append([float(x) for x in vector])
                tokens += count
            return Embeddings(vectors, tokens)

    async def embed(self, texts: list[str]) -> Embeddings:
        return await asyncio.to_thread(self._embed_sync, texts)

    async def close(self) -> None:
        def close_sync() -> None:
            with self._lock:
                llm, self._llm = self._llm, None
                if llm is not None:
                    llm.close()

        await asyncio.to_thread(close_sync)
