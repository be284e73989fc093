"""One sampler chain per sequence: its own penalties, grammar, temperature and seed.

The chain is llama.cpp's, built the way llama-cpp-python builds it for `Llama.generate`
(penalties over the last 64 generated tokens, then the grammar, then greedy or
top-k/top-p/min-p/temperature/dist), so a request samples as it did before batching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roost.core.errors import InvalidRequest

PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size
MIN_P = 0.05  # llama-cpp-python's default for generate()


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None


def chain(vocab: Any, sampling: Sampling, grammar: str | None) -> Any:
    """A new chain (free it with `free`); InvalidRequest for a grammar llama.cpp rejects.

    The grammar sampler is checked before it joins the chain: llama-cpp-python would add
    a NULL sampler, which crashes on first use."""
    import llama_cpp as ll

    params = ll.llama_sampler_chain_default_params()
    params.no_perf = True
    smpl = ll.llama_sampler_chain_init(params)
    try:
        ll.llama_sampler_chain_add(
            smpl,
            ll.llama_sampler_init_penalties(
                ll.llama_vocab_n_tokens(vocab),
                PENALTY_LAST_N,
                sampling.repeat_penalty,
                sampling.frequency_penalty,
                sampling.presence_penalty,
            ),
        )
        if grammar is not None:
            constraint = ll.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
            if not constraint:
                raise InvalidRequest(
                    "the requested output format gives a grammar llama.cpp rejects"
                )
            ll.llama_sampler_chain_add(smpl, constraint)
        if sampling.temperature <= 0.0:
            ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_greedy())
        else:
            seed = ll.LLAMA_DEFAULT_SEED if sampling.seed is None else sampling.seed & 0xFFFFFFFF
            ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_top_k(sampling.top_k))
            ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_top_p(sampling.top_p, 1))
            ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_min_p(MIN_P, 1))
            ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_temp(sampling.temperature))
            ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_dist(seed))
    except BaseException:
        ll.llama_sampler_free(smpl)
        raise
    return smpl


def free(smpl: Any) -> None:
    import llama_cpp as ll

    ll.llama_sampler_free(smpl)
