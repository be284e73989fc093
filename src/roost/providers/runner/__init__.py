"""llama.cpp models in supervised runner processes.

Each loaded llama.cpp model runs in its own child process (`python -m
roost.providers.runner`), as Ollama runs its runners: native code that crashes there
costs the turns that runner was serving, never the server. The server side
(`RunnerProvider`) is an ordinary chat and embedding provider; nothing above providers/
knows a process is involved.
"""
