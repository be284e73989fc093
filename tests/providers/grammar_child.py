"""llama.cpp on grammars, in a process of its own: `python -m tests.providers.grammar_child`.

A grammar that crashes llama.cpp must take this process down, not the test run. Reads
one JSON request on stdin, prints one JSON answer on stdout:

- {"op": "parse", "grammars": [gbnf, ...]}: llama.cpp's own grammar parser
  (llama_sampler_init_grammar on the embedded model's vocabulary) -> {"accepted": [bool]}
- {"op": "sample", "grammars": [...], "tokens": n}: greedy generation of up to n tokens
  under each grammar -> {"texts": [str], "seconds": [float]}
- {"op": "call", "tools": [{"name", "description", "parameters"}], "prompt", "max_tokens"}:
  a real turn through LlamaCppProvider with tool_choice required -> {"calls": [...],
  "finish": reason}
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from roost.config import load_settings
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)
from roost.providers.llamacpp import LlamaCppProvider, embedded_model_path


def parse(grammars: list[str]) -> dict[str, Any]:
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(embedded_model_path()).encode(), params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    accepted = []
    for gbnf in grammars:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        accepted.append(bool(sampler))
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
    llama_cpp.llama_model_free(model)
    return {"accepted": accepted}


def sample(grammars: list[str], tokens: int) -> dict[str, Any]:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

    from roost.providers import llamacpp_cpu

    # As the runner loads it: without AMX buffers on a CPU whose AMX tiles fault.
    llm = llamacpp_cpu.load(Llama, embedded_model_path(), n_ctx=512, n_threads=2, verbose=False)
    prompt = llm.tokenize(
        b"<|im_start|>user\nAnswer in JSON.<|im_end|>\n<|im_start|>assistant\n", special=True
    )
    texts, seconds = [], []
    for gbnf in grammars:
        started = time.perf_counter()
        out: list[int] = []
        grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        for token in llm.generate(prompt, temp=0.0, grammar=grammar, reset=True):
            if token == llm.token_eos() or len(out) >= tokens:
                break
            out.append(token)
        texts.append(llm.detokenize(out).decode("utf-8", "replace"))
        seconds.append(time.perf_counter() - started)
    return {"texts": texts, "seconds": seconds}


async def call(request: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home), env={})
        model = LlamaCppProvider.from_settings("smollm2", settings.models["smollm2"], settings)
        tools = tuple(
            ToolSpec(t["name"], t["description"], t["parameters"]) for t in request["tools"]
        )
        chat = ChatRequest(
            [ChatMessage("user", request["prompt"])],
            GenerationOptions(temperature=0.0, max_tokens=request["max_tokens"]),
            tools,
            ToolChoice("required"),
        )
        calls, finish = [], None
        try:
            async for event in model.stream(chat):
                if isinstance(event, ToolCallChunk):
                    calls.append({"name": event.name, "arguments": event.arguments})
                elif isinstance(event, Finish):
                    finish = event.reason
        finally:
            await model.close()
        return {"calls": calls, "finish": finish}


def main() -> None:
    request = json.load(sys.stdin)
    if request["op"] == "parse":
        answer = parse(request["grammars"])
    elif request["op"] == "sample":
        answer = sample(request["grammars"], request["tokens"])
    else:
        answer = asyncio.run(call(request))
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
