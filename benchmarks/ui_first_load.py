"""Browser UI: first load of / and Enter → first token painted, in Debian's Chromium.

roost runs as `roost serve` with benchmarks/_fast_upstream.py as its model (16 tokens,
DELAY_MS apart). Measured:
- first load: bytes the page transferred (bodies + headers, every request of a cold
  load) and time from navigation start until the app is interactive (the login form
  is shown and the module has run), p50 of RUNS cold contexts;
- first token: pressing Enter in the composer → the first reply text painted (a
  MutationObserver, then the next animation frame), p50 of RUNS turns.
Baseline (same run, same server and model): time to first `content` message of the same
chat sent over `/api/ws` by a Python WebSocket client. Run:
`.venv/bin/python -m benchmarks.ui_first_load` (needs /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

RUNS = 20
SIZES: dict[Size, int] = {"small": 5, "full": 20}
DELAY_MS = 20

FIRST_PAINT_JS = """() => new Promise((resolve) => {
  const list = document.querySelector('#messages');
  const input = document.querySelector('#input');
  input.value = 'benchmark question';
  let start = 0;
  const seen = new MutationObserver(() => {
    const last = [...list.querySelectorAll('article.assistant .body')].pop();
    if (start && last && last.textContent.length) {
      seen.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - start));
    }
  });
  seen.observe(list, { childList: true, subtree: true, characterData: true });
  start = performance.now();
  input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
})"""


async def api_first_token(port: int, runs: int) -> list[float]:
    times = []
    async with connect(f"ws://127.0.0.1:{port}/api/ws?token={PASSWORD}") as ws:
        await ws.recv()  # connected
        await ws.send(json.dumps({"type": "session"}))
        await ws.recv()
        for _ in range(runs):
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "chat", "message": "benchmark question"}))
            first = None
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "content" and first is None:
                    first = time.perf_counter() - start
                if message["type"] in ("done", "error"):
                    break
            assert first is not None
            times.append(first * 1000)
    return times


def measure(runs: int) -> list[Figure]:
    chromium = shutil.which("chromium")
    if not chromium:
        raise SystemExit("needs chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # optional: only this benchmark uses it

    upstream_port, port = free_port(), free_port()
    fast = str(Path(__file__).with_name("_fast_upstream.py"))
    upstream = subprocess.Popen([sys.executable, fast, str(upstream_port), "16", str(DELAY_MS)])
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    (home / "config.toml").write_text(
        f'default_model = "fast"\n[models.fast]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:{upstream_port}/v1"\nmodel = "fast"\n'
        "[memory]\ninclude_in_chat = false\nwatch = false\n"
    )
    roost = start_roost(home, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, roost)
        api = asyncio.run(api_first_token(port, runs))
        loads, sizes, paints = [], [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            for _ in range(runs):
                context = browser.new_context()
                page = context.new_page()
                responses = []
                page.on("requestfinished", lambda r, got=responses: got.append(r))
                page.goto(url + "/")
                page.wait_for_selector("#login:not([hidden])")
                loads.append(page.evaluate("performance.now()"))
                total = 0
                for request in responses:
                    s = request.sizes()
                    total += s["responseBodySize"] + s["responseHeadersSize"]
                sizes.append(total)
                context.close()
            context = browser.new_context()
            page = context.new_page()
            page.goto(url + "/")
            page.fill("#login-key", PASSWORD)
            page.press("#login-key", "Enter")
            page.wait_for_selector("#app:not([hidden])")
            for _ in range(runs):
                paints.append(page.evaluate(FIRST_PAINT_JS))
                page.wait_for_selector("article.assistant:not(.streaming)")
            browser.close()
    finally:
        stop(roost)
        upstream.terminate()
        upstream.wait(10)
    api_p50 = statistics.median(api)
    paint_p50 = statistics.median(paints)
    print(f"first load of /: {statistics.median(sizes):,.0f} bytes transferred (cold cache)")
    print(f"time to interactive: p50 {statistics.median(loads):.1f} ms, max {max(loads):.1f} ms")
    print(f"API time to first token (/api/ws, Python client): p50 {api_p50:.1f} ms")
    print(f"Enter → first token painted (browser): p50 {paint_p50:.1f} ms")
    print(f"ratio browser ÷ API: {paint_p50 / api_p50:.2f}")
    return [
        Figure("UI first load of /", statistics.median(sizes) / 1024, "KiB"),
        Figure("UI time to interactive p50", statistics.median(loads), "ms"),
        Figure("UI Enter to first token painted p50", paint_p50, "ms", api_p50),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(SIZES[size])


def main() -> None:
    measure(RUNS)


if __name__ == "__main__":
    main()
