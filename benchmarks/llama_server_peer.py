"""roost ÷ llama-cpp-python's own server (`python -m llama_cpp.server`), same GGUF.

Both servers serve the embedded SmolLM2 GGUF with the same context size and thread
counts and are streamed over their OpenAI-compatible `POST /v1/chat/completions` (SSE) by
the same httpx client code, with the same prompts and greedy sampling (temperature 0,
top_k 1, repeat penalty 1.0), so they generate the same text (nearly: roost evaluates a
prompt's last token on its own, see `_prefill_all_but_last` in providers/llamacpp.py,
which can tip a near-tie; the output says in how many rounds the texts were identical).
Rounds alternate between the servers, and which one goes first, so machine noise hits
both alike; every round has a prompt neither server has just seen (only the system
prompt is cached).

- time to first token: from sending the request to the first non-empty content delta;
- tokens/s: the tokens streamed after the first delta ÷ the time from it to the end of the
  stream (the generation rate, apart from the prompt pass that the time to first token
  shows); tokens are counted by re-tokenising the received text with the model's
  vocabulary, the same way on both sides (end-to-end rates are printed too);
- RSS of each server after the rounds (VmRSS); roost's is its process tree: the server
  process and its children (a model runner, once generation moves there), shown apart.

The peer runs from its own virtualenv, benchmarks/.venv-peer (git-ignored), created on
the first run with `python -m venv` and pip installing `llama-cpp-python[server]` at the
version roost's virtualenv has (pip reuses the wheel it cached when it built that one).

Sampling: roost's /v1 takes temperature and top_p from the request but not top_k or
repeat_penalty (not OpenAI parameters), so the model's config.toml table sets those
(as `[models.smollm2]`, over the embedded model's defaults: repeat_penalty 1.15,
max_tokens 256); llama_cpp.server takes them all from the request.

Settings the peer would otherwise have differently: `--n_threads` (its default is half
the CPUs), `--n_threads_batch` (llama_cpp.Llama's default, the CPU count, as roost gets),
`--verbose False` (roost loads models quietly) and `--logits_all False`: llama_cpp.Llama's
default, which roost uses; the server's own default (True) keeps logits for every prompt
token (slower prompts, a 2048 x 49152 float buffer); `--peer-logits-all` keeps it.

Extra buffer types (AMX): on a CPU that advertises AMX but faults on it, roost loads
models without llama.cpp's extra buffer types (src/roost/providers/llamacpp_cpu.py); an
unpatched llama_cpp.server would die with SIGSEGV on the first long prompt (the last
prompt here is 450 tokens, past the 128-token batch roost's probe uses). By default
(`--extra-bufts auto`) the peer is started the way roost loads the model on this CPU
(roost's own probe decides), through benchmarks/_peer_server.py, and the output says
which; `--extra-bufts default` runs the peer as shipped, `off` always without them.
Elsewhere (no AMX) both load the model with llama.cpp's defaults.

On a machine shared with other work, llama.cpp's threads (OpenMP, all CPUs by default)
suffer badly when another process takes a CPU; the per-round lines and the spread of
the per-round ratios show how much. `--threads 1` is less sensitive to that.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import httpx

from benchmarks._figures import Figure, Size
from benchmarks._proctree import TreeMemory, tree_memory
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-peer"
LAUNCHER = HERE / "_peer_server.py"
N_CTX = 2048
MODEL = "smollm2"
SYSTEM = "You are a helpful assistant."
WARM_UP = "Say hello."
# Distinct prompts, one per round (cycled), so each round's prompt is new to both
# servers' prompt caches; the last one is long (a few hundred tokens) to time a long
# prompt pass too, and to find out whether the peer survives one on this CPU.
PROMPTS = [
    "Write a long story about a lighthouse keeper and a storm.",
    "Explain how a bicycle works, part by part, for a curious child.",
    "Describe a busy market in a small town on a Saturday morning.",
    "Summarise the following text in a few sentences.\n\n"
    + " ".join(
        [
            "The history of lighthouses begins with fires lit on hilltops to guide ships,",
            "long before towers were built for the purpose. The Pharos of Alexandria, built",
            "in the third century BC, stood for well over a thousand years and gave its name",
            "to the word for lighthouse in several languages. Medieval lights were often kept",
            "by monks or by towns that charged passing ships a fee. In the eighteenth and",
            "nineteenth centuries engineers learned to build towers on wave-swept rocks, using",
            "interlocking granite blocks, and the Fresnel lens concentrated a small flame into",
            "a beam visible for twenty miles. Keepers trimmed wicks, wound clockwork that",
            "turned the lens, and logged the weather; many lived with their families at the",
            "station, far from the nearest village. Electricity, radio beacons and finally",
            "satellite navigation made the keepers unnecessary, and most lights were automated",
            "in the second half of the twentieth century. Today many towers are museums, some",
            "still shine as aids to navigation, and a few have been turned into holiday homes",
            "for people who want to spend a night where the keepers once watched the sea.",
        ]
    )
    * 2,
]
SIZES: dict[Size, dict[str, int]] = {
    "small": {"rounds": 4, "max_tokens": 150},
    "full": {"rounds": 16, "max_tokens": 300},
}
ExtraBufts = Literal["auto", "default", "off"]


@dataclass(frozen=True)
class Reply:
    text: str
    first: str  # the first content delta
    ttft: float  # seconds to the first content delta
    seconds: float  # seconds to the end of the stream


def body(prompt: str, max_tokens: int) -> dict[str, Any]:
    """The same request to both servers: greedy, no repeat penalty, no early stop."""
    return {
        "model": MODEL,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "top_p": 1.0,
        # Not OpenAI parameters: llama_cpp.server reads them, roost ignores them (its
        # config.toml sets the same values; see the module docstring).
        "top_k": 1,
        "min_p": 0.0,
        "repeat_penalty": 1.0,
    }


def stream_chat(client: httpx.Client, request: dict[str, Any]) -> Reply:
    """Stream one chat completion; the same code for both servers."""
    parts: list[str] = []
    first: float | None = None
    start = time.perf_counter()
    with client.stream("POST", "/v1/chat/completions", json=request) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.read()[:300]!r}")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            payload = line[6:]
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            if "error" in event:
                raise RuntimeError(f"error in the stream: {event['error']}")
            for choice in event.get("choices", ()):
                content = (choice.get("delta") or {}).get("content")
                if content:
                    if first is None:
                        first = time.perf_counter()
                    parts.append(content)
    end = time.perf_counter()
    if first is None:
        raise RuntimeError("the stream had no content")
    return Reply("".join(parts), parts[0], first - start, end - start)


def peer_python(version: str) -> Path:
    """benchmarks/.venv-peer's python with llama-cpp-python[server]==version, made once."""
    python = PEER_VENV / "bin" / "python"
    check = "import importlib.metadata as m, llama_cpp.server.app as _; "
    check += "print(m.version('llama-cpp-python'))"
    if python.exists():
        done = subprocess.run([python, "-I", "-c", check], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == version:
            return python
    print(f"setting up {PEER_VENV} with llama-cpp-python[server]=={version} ...", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", f"llama-cpp-python[server]=={version}"],
        capture_output=True,
        text=True,
        timeout=1800,  # a compile from source if pip has no cached wheel
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"cannot install llama-cpp-python[server]=={version}: {' '.join(tail)}")
    return python


def start_peer(
    python: Path,
    model: Path,
    port: int,
    threads: int,
    patch: bool,
    logits_all: bool,
    log: Path,
    n_ctx: int = N_CTX,
    extra: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], list[str]]:
    """llama_cpp.server on `model`; `extra`: more of its flags (benchmarks/concurrency.py)."""
    flags = [
        "--model", str(model),
        "--model_alias", MODEL,
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(multiprocessing.cpu_count()),
        "--logits_all", str(logits_all),
        "--verbose", "False",
        "--host", "127.0.0.1",
        "--port", str(port),
        *extra,
    ]  # fmt: skip
    command = [str(python), "-I", str(LAUNCHER), *(["--no-extra-bufts"] if patch else []), "--"]
    command += flags
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    return process, command


def wait_for_peer(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """llama_cpp.server loads the model before it listens; ready when /v1/models answers."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {tail(log)}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("llama_cpp.server did not answer /v1/models within 180 s")


def tail(log: Path) -> str:
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])


def first_difference(a: str, b: str) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def cv(values: list[float]) -> float:
    """Coefficient of variation, in %."""
    if len(values) < 2:
        return 0.0
    return 100 * statistics.stdev(values) / statistics.mean(values)


def measure(
    rounds: int,
    max_tokens: int,
    extra_bufts: ExtraBufts = "auto",
    peer_logits_all: bool = False,
    threads: int | None = None,
) -> list[Figure]:
    try:
        from llama_cpp import Llama

        from roost.providers import llamacpp_cpu
        from roost.providers.llamacpp import default_threads, embedded_model_path
    except ImportError as exc:
        raise SystemExit(f"needs roost's virtualenv with llama-cpp-python: {exc}") from None
    version = metadata.version("llama-cpp-python")
    python = peer_python(version)
    model = embedded_model_path()
    threads = threads or default_threads()
    amx = llamacpp_cpu.cpu_has_amx()
    roost_extra = llamacpp_cpu.extra_buffers_safe(model)  # probes (as roost does) on AMX CPUs
    patch = extra_bufts == "off" or (extra_bufts == "auto" and not roost_extra)
    print(f"model {model.name}, n_ctx {N_CTX}, n_threads {threads}, llama-cpp-python {version}")
    peer_way = "without (patched by benchmarks/_peer_server.py)" if patch else "with (as shipped)"
    print(
        f"CPU advertises AMX: {'yes' if amx else 'no'}; roost loads the model "
        f"{'with' if roost_extra else 'WITHOUT'} llama.cpp's extra buffer types; "
        f"the peer: {peer_way}"
    )
    tokenizer = Llama(model_path=str(model), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text.encode(), add_bos=False, special=False))

    work = Path(tempfile.mkdtemp(prefix="roost-bench-peer-"))
    home = work / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f"[models.{MODEL}]\n"
        f"n_ctx = {N_CTX}\nn_threads = {threads}\ntemperature = 0.0\ntop_k = 1\ntop_p = 1.0\n"
        f"repeat_penalty = 1.0\nmax_tokens = {max_tokens}\n"
    )
    log = work / "peer.log"
    roost_port, peer_port = free_port(), free_port()
    roost: subprocess.Popen[bytes] | None = None
    peer: subprocess.Popen[bytes] | None = None
    headers = {"Authorization": f"Bearer {PASSWORD}"}  # llama_cpp.server without a key ignores it
    try:
        roost = start_roost(home, roost_port)
        peer, command = start_peer(python, model, peer_port, threads, patch, peer_logits_all, log)
        print("peer:", " ".join(command[1:]))
        wait_for_health(f"http://127.0.0.1:{roost_port}", roost)
        wait_for_peer(f"http://127.0.0.1:{peer_port}", peer, log)
        servers = {
            name: (process, httpx.Client(base_url=url, headers=headers, timeout=300))
            for name, process, url in (
                ("roost", roost, f"http://127.0.0.1:{roost_port}"),
                ("peer", peer, f"http://127.0.0.1:{peer_port}"),
            )
        }

        def run(name: str, prompt: str) -> Reply:
            process, client = servers[name]
            try:
                return stream_chat(client, body(prompt, max_tokens))
            except (httpx.TransportError, RuntimeError) as exc:
                code = process.poll()
                if code is None:
                    raise
                what = "roost" if name == "roost" else "llama_cpp.server"
                hint = (
                    " (a faulting AMX CPU? run with --extra-bufts auto or off)"
                    if name == "peer" and code < 0 and not patch
                    else ""
                )
                raise RuntimeError(
                    f"{what} died (exit status {code}) on the prompt {prompt[:40]!r}{hint}"
                ) from exc

        for name in servers:  # the first request loads roost's model; warms both alike
            run(name, WARM_UP)
        idle = {name: tree_memory(process.pid) for name, (process, _) in servers.items()}
        rates: dict[str, list[float]] = {"roost": [], "peer": []}
        ttfts: dict[str, list[float]] = {"roost": [], "peer": []}
        same = 0
        for r in range(rounds):
            prompt = PROMPTS[r % len(PROMPTS)]
            # Who goes first alternates, and flips for each prompt on every pass through them.
            first = (r + r // len(PROMPTS)) % 2
            order = ["roost", "peer"] if first == 0 else ["peer", "roost"]
            texts: dict[str, str] = {}
            for name in order:
                reply = run(name, prompt)
                tokens = count(reply.text)
                rate = (tokens - count(reply.first)) / (reply.seconds - reply.ttft)
                rates[name].append(rate)
                ttfts[name].append(reply.ttft)
                texts[name] = reply.text
                print(
                    f"  round {r + 1:2d} {name:5s} prompt {r % len(PROMPTS)}: first token "
                    f"{1000 * reply.ttft:7.1f} ms, then {rate:6.1f} tok/s; {tokens:4d} tokens "
                    f"in {reply.seconds:6.3f} s = {tokens / reply.seconds:6.1f} tok/s end to end"
                )
            where = first_difference(texts["roost"], texts["peer"])
            if where is None:
                same += 1
            else:
                print(f"           texts differ from character {where}")
        after = {name: tree_memory(process.pid) for name, (process, _) in servers.items()}
        for _, client in servers.values():
            client.close()
    finally:
        for process in (roost, peer):
            if process is not None:
                stop(process)
    prompt_tokens = [count(SYSTEM + prompt) for prompt in PROMPTS]
    return report(rounds, rates, ttfts, same, prompt_tokens, idle, after)


def report(
    rounds: int,
    rates: dict[str, list[float]],
    ttfts: dict[str, list[float]],
    same: int,
    prompt_tokens: list[int],
    idle: dict[str, TreeMemory],
    after: dict[str, TreeMemory],
) -> list[Figure]:
    print(f"identical text from both servers in {same} of {rounds} rounds")
    rate = {name: statistics.median(values) for name, values in rates.items()}
    ttft = {name: 1000 * statistics.median(values) for name, values in ttfts.items()}
    rate_ratios = [a / b for a, b in zip(rates["roost"], rates["peer"], strict=True)]
    ttft_ratios = [a / b for a, b in zip(ttfts["roost"], ttfts["peer"], strict=True)]
    for name in ("roost", "peer"):
        print(
            f"{name:5s}: {rate[name]:6.1f} tok/s (median of {rounds}, cv {cv(rates[name]):.1f} %), "
            f"first token {ttft[name]:6.1f} ms (cv {cv(ttfts[name]):.1f} %)"
        )
    paired = statistics.median(rate_ratios)
    print(
        f"tokens/s roost/peer: {rate['roost'] / rate['peer']:.3f}; per round: median "
        f"{paired:.3f}, range {spread(rate_ratios)}"
    )
    print(
        f"first token roost/peer: {ttft['roost'] / ttft['peer']:.3f}; per round: median "
        f"{statistics.median(ttft_ratios):.3f}, range {spread(ttft_ratios)}"
    )
    print("first token by prompt, ms (median / best of its rounds; prompt tokens):")
    for i, n_tokens in enumerate(prompt_tokens):
        line = f"  prompt {i} ({n_tokens:3d}):"
        for name in ("roost", "peer"):
            mine = [1000 * t for r, t in enumerate(ttfts[name]) if r % len(PROMPTS) == i]
            if mine:
                line += f"  {name} {statistics.median(mine):7.1f} / {min(mine):7.1f}"
        print(line)
    print(
        "best round (the least disturbed by other load): "
        + ", ".join(f"{name} {max(rates[name]):.1f} tok/s" for name in ("roost", "peer"))
    )
    for when, memory in (("warm, idle", idle), ("after the rounds", after)):
        print(f"memory, {when}:")
        print(textwrap.indent(memory["roost"].describe("roost"), "  "))
        print(textwrap.indent(memory["peer"].describe("llama_cpp.server"), "  "))
    roost_mib, peer_mib = after["roost"].total_rss / 1024, after["peer"].total_rss / 1024
    name = "llama_cpp.server peer"
    return [
        Figure(f"{name}: tokens/s", rate["roost"], "tok/s", rate["peer"], target="ratio >= 1"),
        Figure(f"{name}: median per-round tokens/s ratio", paired, target="value >= 1"),
        Figure(f"{name}: time to first token", ttft["roost"], "ms", ttft["peer"]),
        Figure(f"{name}: RSS (roost: server + children)", roost_mib, "MiB", peer_mib),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(SIZES[size]["rounds"], SIZES[size]["max_tokens"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="See the module docstring for what is measured and how the peer is set up.",
    )
    parser.add_argument("--rounds", type=int, default=SIZES["full"]["rounds"])
    parser.add_argument("--max-tokens", type=int, default=SIZES["full"]["max_tokens"])
    parser.add_argument(
        "--extra-bufts",
        choices=["auto", "default", "off"],
        default="auto",
        help="the peer's extra buffer types: auto = as roost loads the model on this CPU "
        "(off where AMX faults), default = llama_cpp.server as shipped, off = always off",
    )
    parser.add_argument(
        "--peer-logits-all",
        action="store_true",
        help="keep llama_cpp.server's own logits_all=True (default: False, as roost loads)",
    )
    parser.add_argument(
        "--threads", type=int, help="n_threads of both servers (default: roost's, the CPUs usable)"
    )
    args = parser.parse_args()
    measure(args.rounds, args.max_tokens, args.extra_bufts, args.peer_logits_all, args.threads)


if __name__ == "__main__":
    main()
