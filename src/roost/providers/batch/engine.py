"""Continuous batching: several sequences decoded together in one llama.cpp context.

One thread owns the context. Each round it admits waiting jobs to free slots (a slot is a
KV-cache sequence, see slots.py), evaluates prompts in chunks (one `llama_decode` for
every prompt that is still being read), then decodes the next token of every job that is
generating in one batch and samples each with its own chain. A job joins or leaves
between any two rounds; a cancelled job's slot is free at the next round.

Every prompt's last token is decoded in a generation batch, never with the rest of its
prompt: llama.cpp's multi-token prompt pass gives that position slightly different
logits, and a small model has near-ties there, so ending every prompt the same way keeps
greedy answers the same from turn to turn and with or without a cache hit.

The context has `parallel` sequences of `n_ctx` tokens each (llama.cpp's per-sequence
KV streams, `kv_unified = false`): every slot has the model's whole window, and the
context's memory is `parallel` times one window's (the same trade Ollama makes).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from roost.core.errors import ProviderError
from roost.providers.batch import sampler
from roost.providers.batch.slots import Slot, SlotTable

N_BATCH = 512  # prompt tokens per decode


class Job:
    """One request's generation. `on_token` runs on the engine thread for each sampled
    token and says whether to go on; `on_end` runs once, with the error if there was one."""

    def __init__(
        self,
        prompt: list[int],
        smpl: Any,
        on_token: Callable[[int], bool],
        on_end: Callable[[BaseException | None], None],
    ) -> None:
        self.prompt = prompt
        self.smpl = smpl
        self.on_token = on_token
        self.on_end = on_end
        self.cancelled = False
        self.slot: Slot | None = None
        self.pending: list[int] = []  # tokens not yet in the KV cache
        self.pos = 0  # tokens of this job's sequence in the KV cache
        self.reused = 0  # prompt tokens found in the slot's cache


class BatchEngine:
    def __init__(
        self, llm: Any, *, n_ctx: int, parallel: int, n_threads: int, n_batch: int = N_BATCH
    ) -> None:
        import llama_cpp as ll

        self._ll = ll
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_ctx = n_ctx * parallel
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = parallel
        params.kv_unified = False
        params.embeddings = False
        params.n_threads = params.n_threads_batch = n_threads
        params.no_perf = True
        self._ctx = ll.llama_init_from_model(llm._model.model, params)
        if not self._ctx:
            raise ProviderError(
                f"llama.cpp could not make a context of {parallel} x {n_ctx} tokens"
            )
        self._memory = ll.llama_get_memory(self._ctx)
        self._batch = ll.llama_batch_init(max(n_batch, parallel), 0, 1)
        self.parallel = parallel
        self._n_batch = n_batch
        self._slots = SlotTable(parallel)
        self._waiting: deque[Job] = deque()
        self._active: list[Job] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="llama-batch", daemon=True)
        self._thread.start()

    # -- called from other threads -------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._stopping:
                raise ProviderError("the model is shutting down")
            self._waiting.append(job)
            self._cond.notify()

    def cancel(self, job: Job) -> None:
        with self._cond:
            job.cancelled = True
            self._cond.notify()

    @property
    def busy(self) -> int:
        return len(self._active)

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()
        self._ll.llama_batch_free(self._batch)
        self._ll.llama_free(self._ctx)

    # -- the engine thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._waiting and not self._active:
                    self._cond.wait()
                if self._stopping:
                    break
                self._drop_cancelled()
                self._admit()
            self._prefill()
            self._generate()
        with self._cond:
            jobs = [*self._active, *self._waiting]
            self._waiting.clear()
        for job in jobs:
            self._finish(job, ProviderError("the model is shutting down"))

    def _drop_cancelled(self) -> None:
        for job in [j for j in self._waiting if j.cancelled]:
            self._waiting.remove(job)
            self._end(job, None)
        for job in [j for j in self._active if j.cancelled]:
            self._finish(job, None)

    def _admit(self) -> None:
        while self._waiting:
            picked = self._slots.assign(self._waiting[0].prompt)
            if picked is None:
                return
            job = self._waiting.popleft()
            slot, reused = picked
            # Keep the shared prefix's K/V, forget the rest of what the slot held.
            self._ll.llama_memory_seq_rm(self._memory, slot.seq, reused, -1)
            del slot.cached[reused:]
            job.slot, job.reused, job.pos = slot, reused, reused
            job.pending = job.prompt[reused:]
            self._active.append(job)

    def _prefill(self) -> None:
        """Evaluate waiting prompt tokens, all but each prompt's last, in one decode."""
        entries: list[tuple[Job, int]] = []
        room = self._n_batch
        for job in self._active:
            take = min(len(job.pending) - 1, room)
            if take > 0:
                entries.append((job, take))
                room -= take
            if room == 0:
                break
        if not entries:
            return
        tokens = [
            (job, t, job.pos + i) for job, take in entries for i, t in enumerate(job.pending[:take])
        ]
        if not self._decode(tokens, logits=False):
            return
        for job, take in entries:
            assert job.slot is not None
            job.slot.cached.extend(job.pending[:take])
            job.pos += take
            del job.pending[:take]

    def _generate(self) -> None:
        """Decode each generating job's next token in one batch, then sample each."""
        ready = [job for job in self._active if len(job.pending) == 1]
        if not ready or not self._decode([(j, j.pending[0], j.pos) for j in ready], logits=True):
            return
        for i, job in enumerate(ready):
            assert job.slot is not None
            job.slot.cached.append(job.pending[0])
            job.pos += 1
            try:
                token = int(self._ll.llama_sampler_sample(job.smpl, self._ctx, i))
                more = job.on_token(token)
            except Exception as exc:  # the job's own failure (its callback); others go on
                self._finish(job, exc)
                continue
            if more:
                job.pending = [token]
            else:
                self._finish(job, None)

    def _decode(self, tokens: list[tuple[Job, int, int]], *, logits: bool) -> bool:
        batch = self._batch
        for i, (job, token, pos) in enumerate(tokens):
            assert job.slot is not None
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = job.slot.seq
            batch.logits[i] = logits
        batch.n_tokens = len(tokens)
        code = self._ll.llama_decode(self._ctx, batch)
        if code == 0:
            return True
        failed = {id(job): job for job, _, _ in tokens}
        for job in failed.values():
            assert job.slot is not None
            self._ll.llama_memory_seq_rm(self._memory, job.slot.seq, 0, -1)
            job.slot.cached.clear()
            self._finish(job, ProviderError(f"llama.cpp could not decode (code {code})"))
        return False

    def _finish(self, job: Job, error: BaseException | None) -> None:
        with self._cond:
            if job in self._active:
                self._active.remove(job)
            if job.slot is not None:
                self._slots.release(job.slot)
        self._end(job, error)

    def _end(self, job: Job, error: BaseException | None) -> None:
        sampler.free(job.smpl)
        job.on_end(error)
