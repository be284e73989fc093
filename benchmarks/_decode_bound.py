"""What continuous batching can give at most on this machine: llama.cpp's own cost.

Times `llama_decode` of one token for each of N sequences in one batch, against one
sequence alone, on the embedded model in one llama.cpp context (no roost, no Python per
token beyond filling the batch). If a batch of 4 costs 2.8 times a batch of 1, four
clients cannot get more than 4 / 2.8 = 1.4 times one client's tokens/s however the
server schedules them. Prints one JSON object: {"1": ms, "4": ms, "8": ms}.

`python -m benchmarks._decode_bound [--threads N] [--rounds R]`
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def measure(threads: int, rounds: int, sizes: tuple[int, ...] = (1, 4, 8)) -> dict[str, float]:
    import llama_cpp as ll
    from llama_cpp import Llama

    from roost.providers.llamacpp import embedded_model_path

    most = max(sizes)
    llm = Llama(model_path=str(embedded_model_path()), n_ctx=256, n_threads=threads, verbose=False)
    params = type(llm.context_params).from_buffer_copy(llm.context_params)
    params.n_ctx = 2048 * most
    params.n_batch = params.n_ubatch = 512
    params.n_seq_max = most
    params.kv_unified = False  # as roost's BatchEngine
    params.n_threads = params.n_threads_batch = threads
    ctx = ll.llama_init_from_model(llm._model.model, params)
    batch = ll.llama_batch_init(512, 0, 1)
    positions = [0] * most

    def decode(tokens: list[int], seqs: list[int], logits: bool) -> None:
        for i, (token, seq) in enumerate(zip(tokens, seqs, strict=True)):
            batch.token[i] = token
            batch.pos[i] = positions[seq]
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
            positions[seq] += 1
        batch.n_tokens = len(tokens)
        if ll.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    prompt: list[Any] = llm.tokenize(b"Tell me a long story about a dragon and a knight.")
    for seq in range(most):
        decode(prompt, [seq] * len(prompt), False)
    out: dict[str, float] = {}
    for _ in range(2):  # the second pass is the one reported: caches and clocks warm
        for n in sizes:
            for _ in range(3):
                decode([100] * n, list(range(n)), True)
            started = time.perf_counter()
            for _ in range(rounds):
                decode([100] * n, list(range(n)), True)
            out[str(n)] = (time.perf_counter() - started) / rounds * 1000
    ll.llama_batch_free(batch)
    ll.llama_free(ctx)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(measure(args.threads, args.rounds)))


if __name__ == "__main__":
    main()
