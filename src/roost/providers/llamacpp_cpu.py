"""Loading a GGUF model safely on CPUs whose AMX tiles cannot be used.

llama.cpp built for an Intel CPU with AMX (Sapphire Rapids and newer) multiplies large
batches (a long prompt, an embedding) on AMX tiles, through an "extra buffer type" the
weights are repacked into. Some virtual machines advertise AMX but fault on its first
instruction (`ldtilecfg`): the whole server dies with SIGSEGV on the first long prompt.
On such a CPU one throwaway process loads the model and decodes a long batch first; if
it dies by a signal, models load without the extra buffer types (no AMX, no repacking:
slower prompts, correct answers). Elsewhere nothing changes and nothing is probed.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROBE_SECONDS = 120.0
# A batch of 128 tokens: large enough for llama.cpp's tiled (AMX) matrix multiply.
_PROBE = """\
import sys
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_batch=128, n_threads=1, verbose=False)
llm.eval(llm.tokenize(b"probe " * 200)[:128])
"""

_lock = threading.Lock()  # loads patch llama_cpp's defaults: one load at a time
_verdicts: dict[str, bool] = {}  # model path -> extra buffer types are safe


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return " amx_tile" in text


def _probe(path: Path, python: str = sys.executable) -> bool:
    """Whether decoding a long batch with extra buffer types leaves the process alive."""
    try:
        done = subprocess.run(
            [python, "-c", _PROBE, str(path)],
            capture_output=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return True  # no verdict: keep llama.cpp's defaults
    return done.returncode >= 0  # negative: killed by a signal


def extra_buffers_safe(path: Path, *, amx: Callable[[], bool] = cpu_has_amx) -> bool:
    """Probed once per model file and process, on AMX CPUs only."""
    key = str(path)
    if key not in _verdicts:
        safe = True
        if amx():
            safe = _probe(path)
            if not safe:
                log.warning(
                    "llama.cpp crashes on this CPU's AMX tiles (a virtual machine that "
                    "advertises AMX it cannot run?): loading %s without extra buffer types",
                    path.name,
                )
        _verdicts[key] = safe
    return _verdicts[key]


def remember(path: Path, safe: bool) -> None:
    """Take a verdict found earlier (a runner's predecessor probed this file already)."""
    _verdicts[str(path)] = safe


def verdict(path: Path) -> bool | None:
    return _verdicts.get(str(path))


def load(factory: Callable[..., Any], path: Path, **kwargs: Any) -> Any:
    """`factory(model_path=..., **kwargs)` (a `llama_cpp.Llama`), without extra buffer
    types where they crash. Runs in a worker thread: it blocks."""
    # Llama() reads its model defaults from the low-level bindings module at call time.
    bindings: Any = importlib.import_module("llama_cpp.llama_cpp")
    safe = extra_buffers_safe(path)
    with _lock:
        if safe:
            return factory(model_path=str(path), **kwargs)
        defaults = bindings.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = defaults()
            params.use_extra_bufts = False
            return params

        bindings.llama_model_default_params = without_extra_buffers
        try:
            return factory(model_path=str(path), **kwargs)
        finally:
            bindings.llama_model_default_params = defaults
