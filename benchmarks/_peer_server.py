"""Start `python -m llama_cpp.server`, optionally as roost loads models on a faulty-AMX CPU.

Run by the peer benchmark with the python of its own virtualenv (benchmarks/.venv-peer,
which has llama-cpp-python[server]; not roost's), in isolated mode so that benchmarks/
does not shadow any module:

    benchmarks/.venv-peer/bin/python -I benchmarks/_peer_server.py [--no-extra-bufts] \\
        -- <llama_cpp.server flags>

`--no-extra-bufts` does exactly what roost does on a CPU that advertises AMX but faults
on it (src/roost/providers/llamacpp_cpu.py): `llama_cpp.Llama()` reads
`llama_model_default_params` from the bindings module `llama_cpp.llama_cpp` when it is
called, so replacing that function with one that sets `use_extra_bufts = False` loads the
model without llama.cpp's extra buffer types (no AMX tiles, no repacked weights). Without
the flag, llama_cpp.server runs exactly as shipped.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any


def without_extra_buffer_types() -> None:
    import llama_cpp.llama_cpp as bindings

    defaults = bindings.llama_model_default_params

    def patched() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    bindings.llama_model_default_params = patched


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--no-extra-bufts"]:
        without_extra_buffer_types()
        args = args[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    sys.argv = ["llama_cpp.server", *args]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
