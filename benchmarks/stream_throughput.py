"""Embedded streaming: tokens/s through roost's SSE ÷ tokens/s of llama-cpp-python directly.

Both sides use the same GGUF, prompt, context size, thread count and greedy sampling, so
they generate the same text; rounds alternate so machine noise hits both alike. Tokens are
counted the same way on both sides (re-tokenising the received text).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from llama_cpp import Llama

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health
from roost.providers import llamacpp_cpu
from roost.providers.llamacpp import default_threads, embedded_model_path

PROMPT = "Write a long story about a lighthouse keeper and a storm."
SYSTEM = "You are a helpful assistant."
N_CTX = 2048
SIZES: dict[Size, dict[str, int]] = {
    "small": {"rounds": 2, "max_tokens": 120},
    "full": {"rounds": 5, "max_tokens": 300},
}


def direct_round(llm: Llama, max_tokens: int) -> tuple[str, float]:
    start = time.perf_counter()
    parts = []
    for chunk in llm.create_chat_completion(
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        stream=True,
        max_tokens=max_tokens,
        temperature=0.0,
        top_k=1,
        top_p=1.0,
        min_p=0.0,
        repeat_penalty=1.0,
    ):
        delta = chunk["choices"][0]["delta"].get("content")  # type: ignore[index,union-attr]
        if delta:
            parts.append(delta)
    return "".join(parts), time.perf_counter() - start


def roost_round(client: httpx.Client, max_tokens: int) -> tuple[str, float]:
    start = time.perf_counter()
    parts = []
    # Without memory context, so roost sends the model the same prompt as the baseline.
    body = {"message": PROMPT, "include_memory": False}
    with client.stream("POST", "/api/chat/stream", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                event = json.loads(line[6:])
                if event["type"] == "content":
                    parts.append(event["delta"])
                elif event["type"] == "error":
                    raise RuntimeError(event)
    return "".join(parts), time.perf_counter() - start


def measure(rounds: int, max_tokens: int) -> list[Figure]:

    threads = default_threads()
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    (home / "config.toml").write_text(
        "[models.smollm2]\n"
        f"n_ctx = {N_CTX}\nn_threads = {threads}\ntemperature = 0.0\ntop_k = 1\ntop_p = 1.0\n"
        f"repeat_penalty = 1.0\nmax_tokens = {max_tokens}\n"
        f'\n[chat]\nsystem_prompt = "{SYSTEM}"\n'
    )
    # Loaded as roost loads it (without AMX where AMX crashes: providers/llamacpp_cpu.py).
    llm = llamacpp_cpu.load(
        Llama, embedded_model_path(), n_ctx=N_CTX, n_threads=threads, verbose=False
    )
    port = free_port()
    server = start_roost(home, port)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": PASSWORD}, timeout=300
        )
        roost_round(client, max_tokens)  # warm-up: loads the model in the server
        direct_round(llm, max_tokens)
        direct_rates, roost_rates = [], []
        for _ in range(rounds):
            for name, run, rates in (
                ("direct", lambda: direct_round(llm, max_tokens), direct_rates),
                ("roost", lambda: roost_round(client, max_tokens), roost_rates),
            ):
                text, seconds = run()
                tokens = len(llm.tokenize(text.encode(), add_bos=False))
                rates.append(tokens / seconds)
                print(
                    f"  {name:6s} {tokens:4d} tokens in {seconds:6.3f} s = "
                    f"{tokens / seconds:7.1f} tok/s"
                )
        client.close()
    finally:
        stop(server)
    direct, through = statistics.median(direct_rates), statistics.median(roost_rates)
    print(f"direct llama-cpp-python: {direct:.1f} tok/s (median of {rounds})")
    print(f"roost SSE client:        {through:.1f} tok/s (median of {rounds})")
    print(f"ratio roost/direct: {through / direct:.3f} (target >= 0.97)")
    # Each round's two runs are back to back, so their ratio sees the least drift in load.
    paired = statistics.median(r / d for r, d in zip(roost_rates, direct_rates, strict=True))
    print(f"median of per-round ratios: {paired:.3f}")
    return [
        Figure("embedded SSE stream: tokens/s", through, "tok/s", direct, target="ratio >= 0.97"),
        Figure("embedded SSE stream: median per-round ratio", paired, target="value >= 0.97"),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=SIZES["full"]["rounds"])
    parser.add_argument("--max-tokens", type=int, default=SIZES["full"]["max_tokens"])
    args = parser.parse_args()
    measure(args.rounds, args.max_tokens)


if __name__ == "__main__":
    main()
