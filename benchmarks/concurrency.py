"""Many clients at once on the embedded model: roost and llama_cpp.server, in one run.

Both servers serve the embedded SmolLM2 GGUF and are streamed over `POST
/v1/chat/completions` (SSE) by the same asyncio client, with the same messages and greedy
sampling (temperature 0, top_k 1, top_p 1, repeat penalty 1). Issue 20's figures, each
server against its own baseline measured in the same run:

- aggregate tokens/s with 4 and with 8 clients ÷ 1 client: N clients start at the same
  moment, each asks for `--max-tokens` (150) with its own prompt that makes the model talk
  on (no prompt cache hit beyond the system prompt); aggregate = completion tokens of all
  N ÷ the time from the start to the end of the last stream. Target (roost, 4 clients):
  ≥ 2.5.
- time to first token (the first non-empty content delta, from the common start) with 4
  clients, p50 and p99 over every client of every round; the baseline is one client's.
  Target (roost): p99 ≤ 0.5 s.
- a conversation with a ~2,000-token history (`--history`; the messages are in
  benchmarks/_concurrency_text.py): the first turn sends the history (ending with a user
  message); the second sends the same history + the reply + a new user message, as a
  client does. Figure: second ÷ first turn's time to first token; target (roost) ≤ 0.3.
  A third turn of the same conversation follows after another conversation's first turn
  (another subject, as long) was sent in between, what a server with several clients
  sees: ÷ the first turns too (the median of both conversations'), no target. Replies are
  `TURN_TOKENS` long.

Tokens are counted from roost's usage chunk (`stream_options.include_usage`);
llama_cpp.server 0.3 ignores stream_options, so its text is re-tokenised with the model's
vocabulary (roost's too, printed next to its usage count as a check). Every request is
checked to have produced nearly `--max-tokens` (the lengths are printed; a short one is
flagged), and a request that fails (an HTTP error, say a 429/503 from a bounded queue) is
counted in a figure whose target is 0.

The peer, `python -m llama_cpp.server`, is started as benchmarks/llama_server_peer.py
starts it (its own virtualenv benchmarks/.venv-peer, made on the first run; the same
threads; extra buffer types as roost loads the model on this CPU), with `--n_ctx` as
roost's and `--interrupt_requests False`: by default it ends a running stream (with
[DONE]) as soon as another request waits, so concurrent clients would cut each other
short; without it, it serves one request at a time, the others waiting their turn. Its
prompt pass uses every CPU (`--n_threads_batch`, as llama_server_peer.py starts it);
roost's batching runner uses n_threads for both, so with `--threads` below the CPU count
the peer's long prompts get more threads than roost's.

roost runs `roost serve` with `[models.smollm2] n_ctx = --n-ctx` (4096: the history and
its replies; the embedded default is 2048), the same threads and sampling, and nothing
else set, so it measures whatever the server does by default (one generation at a time
before issue 20; `parallel` batch slots after it, each with the whole n_ctx). The slot
count the server reports is printed: from its /metrics (roost_model_slots), else from the
runner state file $ROOST_HOME/run/models-*.json (slots 0 before batching).
`--model-option KEY=VALUE` adds lines to the model's table (e.g. `parallel=8`).

Rounds alternate which server goes first and the order of the levels; each round runs
1, 4 and 8 clients on both (the servers taking turns level by level, so paired figures are
measured close in time); the first `--conversations` rounds (1) then run the
conversation on both. Aggregates are all rounds' tokens ÷ all rounds' time.

Timeouts everywhere, so that the run always ends: a level of N clients (and each read in
it: a request queued behind the others may wait that long for its first byte) 60 s +
0.5 s for each token asked for; a conversation turn 300 s; after `--budget` seconds (600)
no new step (a level on both servers, or the conversation) starts, though the first
round always runs whole; after 2 x budget + 300 s the run stops, and reports what it
has if every figure has a measurement (else it fails). Aggregates take every
measurement of a level, whole rounds or not. On a quiet 2-core machine a round takes
about a minute and a cold 2,000-token prompt pass ~10 s. With other work on the cores,
llama.cpp's threads (2 here) wait on each other and everything can be ten times slower
(`--threads 1` suffers less; use the same for comparisons).

    .venv/bin/python -m benchmarks.concurrency [--quick] [--rounds 3] [--max-tokens 150]
        [--history 2000] [--conversations 1] [--budget 600] [--n-ctx 4096] [--threads N]
        [--model-option parallel=8]

`--quick` is benchmarks/run's small size (1 round, 64 tokens, a 1,000-token history).
roost is whatever `python -m roost.cli` imports: to measure a commit while its work tree
holds other changes, put an exported tree first, e.g.
`git archive HEAD src | tar -x -C /tmp/head && PYTHONPATH=/tmp/head/src .venv/bin/python
-m benchmarks.concurrency` (the model runner inherits the environment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import httpx

from benchmarks._concurrency_text import TURNS, conversation, prompt
from benchmarks._figures import Figure, Size, pct
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health
from benchmarks.llama_server_peer import (
    MODEL,
    body,
    peer_python,
    start_peer,
    tail,
    wait_for_peer,
)

LEVELS = (1, 4, 8)
TTFT_LEVEL = 4
TURN_TOKENS = 32  # each conversation reply
TURN_TIMEOUT = 300  # seconds
SERVERS = ("roost", "peer")
LABEL = {"roost": "roost", "peer": "llama_cpp.server"}


@dataclass(frozen=True)
class Plan:
    rounds: int = 3  # of 1, 4 and 8 clients on both servers
    max_tokens: int = 150  # each client's request
    history: int = 2000  # the conversation's history, in tokens
    conversations: int = 1  # rounds that also run the conversation (the first ones)
    budget: float = 600  # seconds after which no step starts (round 1 always runs whole)
    n_ctx: int = 4096  # both servers'
    threads: int | None = None  # both servers' n_threads (None: roost's default, the CPUs)
    model_options: tuple[str, ...] = ()  # more lines for roost's [models.smollm2]

    @property
    def hard_limit(self) -> float:
        """Seconds after which the run stops, in the middle of a step (one may start at
        `budget` and take long on a loaded machine)."""
        return 2 * self.budget + 300


SIZES: dict[Size, Plan] = {
    # A minute or two on a quiet 2-core machine (roost serving one request at a time).
    "small": Plan(rounds=1, max_tokens=64, history=1000, budget=120),
    # A few minutes there: each round ~1 min, the conversation ~1 min a server.
    "full": Plan(),
}
T = TypeVar("T")
HEADERS = {"Authorization": f"Bearer {PASSWORD}"}  # roost's admin password
SHORT = 0.9  # a request with fewer than this share of max_tokens is flagged


class RequestFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Stream:
    ttft: float  # seconds from the start to the first content delta
    seconds: float  # seconds from the start to the end of the stream
    text: str
    completion_tokens: int | None  # from the usage chunk, when the server sends one
    prompt_tokens: int | None
    cached_tokens: int | None  # usage.prompt_tokens_details.cached_tokens, if given


@dataclass
class Level:
    clients: int
    makespan: float
    tokens: list[int]
    ttfts: list[float]
    failures: list[str]

    @property
    def rate(self) -> float:
        return sum(self.tokens) / self.makespan


@dataclass
class Results:
    levels: dict[int, list[Level]] = field(default_factory=dict)
    first_turns: list[float] = field(default_factory=list)
    second_turns: list[float] = field(default_factory=list)
    later_turns: list[float] = field(default_factory=list)
    history_tokens: list[int] = field(default_factory=list)
    usage_vs_text: list[tuple[int, int]] = field(default_factory=list)  # when it sends usage
    failures: list[str] = field(default_factory=list)


async def stream(
    client: httpx.AsyncClient, request: dict[str, Any], start: float, seconds: float
) -> Stream:
    """One streamed chat completion; the same code for both servers. `seconds`: the read
    timeout (a request queued behind others may wait that long for its first byte)."""
    parts: list[str] = []
    first: float | None = None
    usage: dict[str, Any] | None = None
    timeout = httpx.Timeout(seconds, connect=10)
    async with client.stream(
        "POST", "/v1/chat/completions", json=request, timeout=timeout
    ) as response:
        if response.status_code != 200:
            raise RequestFailed(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            payload = line[6:]
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            if "error" in event:
                raise RequestFailed(f"error in the stream: {event['error']}")
            if event.get("usage"):
                usage = event["usage"]
            for choice in event.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    if first is None:
                        first = time.perf_counter()
                    parts.append(content)
    end = time.perf_counter()
    if first is None:
        raise RequestFailed("the stream had no content")
    return Stream(
        first - start,
        end - start,
        "".join(parts),
        usage.get("completion_tokens") if usage else None,
        usage.get("prompt_tokens") if usage else None,
        ((usage or {}).get("prompt_tokens_details") or {}).get("cached_tokens"),
    )


async def within(work: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise RuntimeError(f"{what} not done after {seconds:.0f} s: stopped") from None


def request(messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
    """llama_server_peer's body (greedy, same fields to both) with these messages."""
    return {
        **body("", max_tokens),
        "messages": messages,
        "stream_options": {"include_usage": True},
    }


class Bench:
    def __init__(
        self, clients: dict[str, httpx.AsyncClient], count: Callable[[str], int], plan: Plan
    ) -> None:
        self.clients = clients
        self.count = count
        self.plan = plan
        self.results = {name: Results() for name in SERVERS}
        self.rounds = 0  # rounds run whole

    def tokens(self, name: str, reply: Stream) -> int:
        """Completion tokens: the usage chunk's, else the text re-tokenised."""
        retokenised = self.count(reply.text)
        if reply.completion_tokens is None:
            return retokenised
        self.results[name].usage_vs_text.append((reply.completion_tokens, retokenised))
        return reply.completion_tokens

    async def level(self, name: str, clients: int, tag: str) -> None:
        """`clients` requests sent at the same moment; each its own prompt and topic."""
        max_tokens = self.plan.max_tokens
        bodies = [request(prompt(f"{tag}.{clients}.{i}", i), max_tokens) for i in range(clients)]
        timeout = 60 + clients * max_tokens * 0.5  # 2 tok/s: a machine under heavy load
        start = time.perf_counter()
        outcomes = await within(
            asyncio.gather(
                *(stream(self.clients[name], b, start, timeout) for b in bodies),
                return_exceptions=True,
            ),
            timeout,
            f"{LABEL[name]}: {clients} clients",
        )
        done = [o for o in outcomes if isinstance(o, Stream)]
        failures = [f"{type(o).__name__}: {o}" for o in outcomes if not isinstance(o, Stream)]
        if not done:
            raise RuntimeError(f"{LABEL[name]}: every request of {clients} failed: {failures}")
        level = Level(
            clients,
            max(d.seconds for d in done),
            [self.tokens(name, d) for d in done],
            sorted(d.ttft for d in done),
            failures,
        )
        self.results[name].levels.setdefault(clients, []).append(level)
        self.results[name].failures += failures
        short = [t for t in level.tokens if t < SHORT * max_tokens]
        print(
            f"  {tag} {LABEL[name]:16s} {clients} client{'s' if clients > 1 else ' '}: "
            f"{level.rate:6.1f} tok/s in all ({sum(level.tokens):4d} tokens, "
            f"{level.makespan:5.2f} s); first token {_ms(min(level.ttfts))} to "
            f"{_ms(max(level.ttfts))}; tokens each {min(level.tokens)}-{max(level.tokens)}"
            + (f"; {len(short)} SHORT" if short else "")
            + (f"; {len(failures)} FAILED: {failures[0]}" if failures else ""),
            flush=True,
        )

    async def turn(self, name: str, messages: list[dict[str, str]]) -> Stream:
        start = time.perf_counter()
        return await within(
            stream(self.clients[name], request(messages, TURN_TOKENS), start, TURN_TIMEOUT),
            TURN_TIMEOUT,
            f"{LABEL[name]}: a conversation turn",
        )

    async def conversation(self, name: str, tag: str) -> None:
        """First turn, second turn; another conversation's first turn; the third turn."""
        results = self.results[name]
        history = conversation(f"{tag}.A", self.plan.history, self.count)
        first = await self.turn(name, history)
        history += [{"role": "assistant", "content": first.text}, TURNS[0]]
        second = await self.turn(name, history)
        history += [{"role": "assistant", "content": second.text}, TURNS[1]]
        other = conversation(f"{tag}.B", self.plan.history, self.count, subject=1)
        other_first = await self.turn(name, other)
        third = await self.turn(name, history)
        results.first_turns += [first.ttft, other_first.ttft]
        results.second_turns.append(second.ttft)
        results.later_turns.append(third.ttft)
        if first.prompt_tokens:
            results.history_tokens.append(first.prompt_tokens)
        print(
            f"  {tag} {LABEL[name]:16s} conversation, first token: first turn "
            f"{_turn(first)}, second {_turn(second)}; another conversation's first "
            f"{_turn(other_first)}, then the third turn {_turn(third)}",
            flush=True,
        )

    async def run(self) -> None:
        """The warm-up, then the rounds (`self.rounds` counts those run whole)."""
        for name in SERVERS:  # loads roost's model; opens 8 connections to each
            await within(
                asyncio.gather(
                    *(
                        stream(self.clients[name], request(prompt("w", i), 4), 0, 300)
                        for i in range(8)
                    )
                ),
                300,
                f"{LABEL[name]}: the warm-up",
            )
        plan = self.plan
        deadline = time.monotonic() + plan.budget
        for r in range(plan.rounds):
            order = SERVERS if r % 2 == 0 else SERVERS[::-1]
            steps: list[tuple[str, int]] = [
                ("level", clients) for clients in (LEVELS if r % 2 == 0 else LEVELS[::-1])
            ]
            if r < plan.conversations:
                steps.append(("conversation", 0))
            for what, clients in steps:
                if r and time.monotonic() > deadline:  # the first round always runs whole
                    print(f"  budget of {plan.budget:.0f} s spent: stopped in round {r + 1}")
                    return
                for name in order:  # the servers take turns step by step
                    if what == "level":
                        await self.level(name, clients, f"r{r + 1}")
                    else:
                        await self.conversation(name, f"r{r + 1}")
            self.rounds = r + 1

    def measured(self) -> bool:
        """Whether every figure has a measurement on both servers."""
        return all(
            set(LEVELS) <= set(res.levels) and res.first_turns for res in self.results.values()
        )


def roost_slots(url: str, home: Path) -> str:
    """The model's batch slots as the server reports them: its /metrics (issue 20), else
    the runner state file `roost models` reads (before /metrics: slots 0, one at a time)."""
    try:
        response = httpx.get(f"{url}/metrics", headers=HEADERS, timeout=10)
    except httpx.HTTPError:
        response = None
    if response is not None and response.status_code == 200:
        found = []
        for line in response.text.splitlines():
            for family in ("roost_model_slots", "roost_model_slots_busy"):
                if line.startswith(f'{family}{{model="{MODEL}"}} '):
                    found.append(f"{family.removeprefix('roost_model_')} {line.split()[-1]}")
        if found:
            return f"{', '.join(found)} (its /metrics)"
    for path in sorted((home / "run").glob("models-*.json")):
        try:
            status = json.loads(path.read_text())["models"][MODEL]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        keys = ("state", "slots", "slots_busy", "queued")
        state = ", ".join(f"{k} {status[k]}" for k in keys if k in status)
        return f"{state} (its runner state file)"
    return "no /metrics, no runner state file"


def measure(plan: Plan) -> list[Figure]:
    try:
        from llama_cpp import Llama

        from roost.providers import llamacpp_cpu
        from roost.providers.llamacpp import default_threads, embedded_model_path
    except ImportError as exc:
        raise SystemExit(f"needs roost's virtualenv with llama-cpp-python: {exc}") from None
    version = metadata.version("llama-cpp-python")
    python = peer_python(version)
    model = embedded_model_path()
    threads = plan.threads or default_threads()
    patch = not llamacpp_cpu.extra_buffers_safe(model)  # the peer loads it as roost does
    tokenizer = Llama(model_path=str(model), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text.encode(), add_bos=False, special=False))

    work = Path(tempfile.mkdtemp(prefix="roost-bench-concurrency-"))
    home = work / "home"
    home.mkdir()
    options = "".join(f"{option.strip()}\n" for option in plan.model_options)
    (home / "config.toml").write_text(
        f"[models.{MODEL}]\nn_ctx = {plan.n_ctx}\nn_threads = {threads}\ntemperature = 0.0\n"
        f"top_k = 1\ntop_p = 1.0\nrepeat_penalty = 1.0\nmax_tokens = 1024\n{options}"
    )
    print(
        f"model {model.name}, n_ctx {plan.n_ctx}, n_threads {threads}, llama-cpp-python "
        f"{version}; {plan.max_tokens} tokens a request, {plan.rounds} round(s), "
        f"a ~{plan.history}-token history in {plan.conversations} of them"
    )
    if plan.model_options:
        print(f"roost's [models.{MODEL}] also has: {', '.join(plan.model_options)}")
    log = work / "peer.log"
    ports = {"roost": free_port(), "peer": free_port()}
    roost: subprocess.Popen[bytes] | None = None
    peer: subprocess.Popen[bytes] | None = None
    try:
        roost = start_roost(home, ports["roost"])
        peer, command = start_peer(
            python,
            model,
            ports["peer"],
            threads,
            patch,
            False,  # logits_all, as roost loads
            log,
            n_ctx=plan.n_ctx,
            extra=["--interrupt_requests", "False"],
        )
        print("peer:", " ".join(command[1:]), flush=True)
        wait_for_health(f"http://127.0.0.1:{ports['roost']}", roost)
        wait_for_peer(f"http://127.0.0.1:{ports['peer']}", peer, log)

        async def run() -> Bench:
            clients = {
                name: httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    headers=HEADERS,  # the peer ignores it
                    limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
                )
                for name, port in ports.items()
            }
            bench = Bench(clients, count, plan)
            try:
                await asyncio.wait_for(bench.run(), plan.hard_limit)
            except TimeoutError:
                if not bench.measured():
                    raise RuntimeError(f"not done after {plan.hard_limit:.0f} s: stopped") from None
                print(f"  stopped after {plan.hard_limit:.0f} s; reporting what was measured")
            finally:
                for client in clients.values():
                    await client.aclose()
            return bench

        try:
            bench = asyncio.run(run())
        except Exception:
            for what, server in (("roost", roost), ("llama_cpp.server", peer)):
                if server.poll() is not None:
                    print(f"{what} exited with {server.returncode}")
            print(f"llama_cpp.server's log: {tail(log)}")
            raise
        slots = roost_slots(f"http://127.0.0.1:{ports['roost']}", home)
    finally:
        for process in (roost, peer):
            if process is not None:
                stop(process)
    return report(bench.results, bench.rounds, slots) + decode_bound(threads, bench.results)


def rates(res: Results) -> dict[int, float]:
    """Aggregate tokens/s by number of clients: all rounds' tokens ÷ all rounds' time."""
    return {
        n: sum(sum(lv.tokens) for lv in levels) / sum(lv.makespan for lv in levels)
        for n, levels in res.levels.items()
    }


def decode_bound(threads: int, results: dict[str, Results]) -> list[Figure]:
    """llama.cpp's own cost of a batch of 4 against 1 (benchmarks/_decode_bound.py), in
    a process of its own after the servers stopped: the most batching can give here."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._decode_bound", "--threads", str(threads)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        print(f"llama.cpp's batch cost not measured: {done.stderr[-500:]}")
        return []
    ms = json.loads(done.stdout.strip().splitlines()[-1])
    bound = 4 * ms["1"] / ms["4"]
    rate = rates(results["roost"])
    print(
        f"llama.cpp alone (llama_decode, {threads} threads): one token for 1 / 4 / 8 "
        f"sequences takes {ms['1']:.1f} / {ms['4']:.1f} / {ms['8']:.1f} ms, so 4 clients "
        f"can get at most {bound:.2f}x one client's tokens/s; roost got "
        f"{rate[4] / rate[1]:.2f}x"
    )
    return [
        Figure("llama.cpp alone: one decode of a batch of 4 ÷ of 1", ms["4"], "ms", ms["1"]),
        Figure(
            "roost's 4-client gain ÷ the most llama.cpp allows (4 x decode(1) ÷ decode(4))",
            rate[4] / rate[1],
            "x",
            bound,
        ),
    ]


def _turn(reply: Stream) -> str:
    """A turn's time to first token, and its prompt tokens (cached) when usage says."""
    if not reply.prompt_tokens:
        return _ms(reply.ttft)
    cached = "" if reply.cached_tokens is None else f", {reply.cached_tokens} cached"
    return f"{_ms(reply.ttft)} ({reply.prompt_tokens} prompt tokens{cached})"


def _num(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def report(results: dict[str, Results], rounds: int, slots: str) -> list[Figure]:
    print(f"\n{rounds} whole round(s); roost's model: {slots}")
    usage = results["roost"].usage_vs_text
    if usage:
        print(
            f"roost's completion tokens: {sum(u for u, _ in usage)} by its usage chunks, "
            f"{sum(t for _, t in usage)} by its text re-tokenised (as llama_cpp.server's are)"
        )
    head = ["server", "1 client", "4 clients", "8 clients", "TTFT 4 clients p50 / p99"]
    head += ["turn 1", "turn 2", "turn 3, after another"]
    rows = [head]
    figures: list[Figure] = []
    at_4: dict[str, float] = {}
    for name in SERVERS:
        res = results[name]
        rate = rates(res)
        at_4[name] = rate[4]
        ttfts = [t for lv in res.levels[TTFT_LEVEL] for t in lv.ttfts]
        alone = statistics.median(t for lv in res.levels[1] for t in lv.ttfts)
        p50, p99 = pct(ttfts, 0.5), pct(ttfts, 0.99)
        first = statistics.median(res.first_turns)
        second = statistics.median(res.second_turns)
        later = statistics.median(res.later_turns)
        rows.append(
            [
                LABEL[name],
                f"{rate[1]:.1f} tok/s",
                f"{rate[4]:.1f} ({rate[4] / rate[1]:.2f}x)",
                f"{rate[8]:.1f} ({rate[8] / rate[1]:.2f}x)",
                f"{_ms(p50)} / {_ms(p99)}",
                _ms(first),
                f"{_ms(second)} ({second / first:.2f})",
                f"{_ms(later)} ({later / first:.2f})",
            ]
        )
        mine = name == "roost"  # the targets are roost's; the peer is for comparison
        label = LABEL[name]
        figures += [
            Figure(
                f"{label}: aggregate tokens/s, 4 clients ÷ 1",
                rate[4],
                "tok/s",
                rate[1],
                target="ratio >= 2.5" if mine else "",
            ),
            Figure(f"{label}: aggregate tokens/s, 8 clients ÷ 1", rate[8], "tok/s", rate[1]),
            Figure(
                f"{label}: first token p50, 4 clients (÷ 1 client)", 1000 * p50, "ms", 1000 * alone
            ),
            Figure(
                f"{label}: first token p99, 4 clients (÷ 1 client)",
                1000 * p99,
                "ms",
                1000 * alone,
                target="value <= 500" if mine else "",
            ),
            Figure(
                f"{label}: 2nd turn ÷ 1st, first token, long history",
                1000 * second,
                "ms",
                1000 * first,
                target="ratio <= 0.3" if mine else "",
            ),
            Figure(
                f"{label}: 3rd turn after another conversation ÷ 1st, first token",
                1000 * later,
                "ms",
                1000 * first,
            ),
            Figure(f"{label}: requests failed", float(len(res.failures)), target="value <= 0"),
        ]
    figures.append(
        Figure(
            "roost ÷ llama_cpp.server: aggregate tokens/s, 4 clients",
            at_4["roost"],
            "tok/s",
            at_4["peer"],
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print()
    for i, row in enumerate(rows):
        cells = [
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    n = sum(len(lv.ttfts) for lv in results["roost"].levels[TTFT_LEVEL])
    history = results["roost"].history_tokens
    print(
        f"(aggregate: all clients' completion tokens ÷ the time to the last stream's end; "
        f"p99 of {n} first tokens; turns: the median, and ÷ the median first turn"
        + (f"; the history: {min(history)}-{max(history)} prompt tokens)" if history else ")")
    )
    for name in SERVERS:
        for failure in results[name].failures[:3]:
            print(f"{LABEL[name]} request failed: {failure}")
    return figures


def figures(size: Size) -> list[Figure]:
    return measure(SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="See the module docstring for what is measured and how.",
    )
    full = SIZES["full"]
    parser.add_argument("--quick", action="store_true", help="benchmarks/run's small size")
    parser.add_argument("--rounds", type=int, help=f"of 1, 4, 8 clients (default {full.rounds})")
    parser.add_argument(
        "--max-tokens", type=int, help=f"each request's (default {full.max_tokens})"
    )
    parser.add_argument(
        "--history", type=int, help=f"the conversation's, in tokens (default {full.history})"
    )
    parser.add_argument(
        "--conversations",
        type=int,
        help=f"rounds that run the conversation too (default {full.conversations})",
    )
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds after which no round starts (default {full.budget:.0f})",
    )
    parser.add_argument("--n-ctx", type=int, help=f"both servers' (default {full.n_ctx})")
    parser.add_argument("--threads", type=int, help="both servers' n_threads (default: the CPUs)")
    parser.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a line for roost's [models.{MODEL}] table (repeatable), e.g. parallel=8",
    )
    args = parser.parse_args()
    plan = SIZES["small" if args.quick else "full"]
    changes = {
        key: getattr(args, key)
        for key in ("rounds", "max_tokens", "history", "conversations", "budget", "n_ctx")
        if getattr(args, key) is not None
    }
    plan = replace(
        plan,
        **changes,
        threads=args.threads,
        model_options=tuple(args.model_option) or plan.model_options,
    )
    found = measure(plan)
    print()
    for f in found:
        compared = ""
        if f.baseline is not None and f.ratio is not None:
            compared = f" vs {_num(f.baseline)}: ratio {f.ratio:.3g}"
        target = f"  [target {f.target}: {'met' if f.met else 'NOT MET'}]" if f.target else ""
        print(f"{f.name}: {_num(f.value)} {f.unit}{compared}{target}")


if __name__ == "__main__":
    main()
