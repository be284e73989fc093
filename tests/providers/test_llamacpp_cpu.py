"""Loading GGUF models where llama.cpp's AMX path would crash the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roost.providers import llamacpp_cpu
from roost.providers.llamacpp import embedded_model_path


def test_amx_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("flags\t\t: fpu sse avx512f amx_bf16 amx_tile amx_int8\n")
    assert llamacpp_cpu.cpu_has_amx(info)
    info.write_text("flags\t\t: fpu sse avx2\n")
    assert not llamacpp_cpu.cpu_has_amx(info)
    assert not llamacpp_cpu.cpu_has_amx(tmp_path / "missing")


def _interpreter(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_probe_killed_by_a_signal_means_unsafe(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    assert not llamacpp_cpu._probe(model, _interpreter(tmp_path, "kill -SEGV $$"))
    # A probe that fails otherwise (a bad file) gives no verdict against the defaults.
    assert llamacpp_cpu._probe(model, _interpreter(tmp_path, "exit 1"))
    assert llamacpp_cpu._probe(model, str(tmp_path / "no-such-python"))


def test_no_probe_without_amx(tmp_path: Path) -> None:
    path = tmp_path / "never-probed.gguf"  # a probe of it would fail, not crash
    assert llamacpp_cpu.extra_buffers_safe(path, amx=lambda: False)


@pytest.mark.model
def test_a_long_batch_decodes_in_this_process() -> None:
    """On this machine's CPU, whatever it is: loaded through `load`, the embedded model
    decodes a 128-token batch (the size that takes llama.cpp's tiled matmul) and an
    embedding without killing the process. Run in a child so a crash fails the test
    rather than the test run."""
    code = (
        "import llama_cpp, sys\n"
        "from pathlib import Path\n"
        "from roost.providers import llamacpp_cpu\n"
        "path = Path(sys.argv[1])\n"
        "llm = llamacpp_cpu.load(llama_cpp.Llama, path, n_ctx=256, n_batch=128, verbose=False)\n"
        "llm.eval(llm.tokenize(b'long prompt ' * 100)[:128])\n"
        "emb = llamacpp_cpu.load(llama_cpp.Llama, path, embedding=True, n_ctx=256,\n"
        "    n_batch=256, n_ubatch=256, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,\n"
        "    verbose=False)\n"
        "print(len(emb.embed('dogs ' * 100)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(embedded_model_path())],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split()[-1] == "576"  # SmolLM2-135M's width
