"""How a child process ended, for people: `SIGSEGV`, `SIGKILL`, `exit code 3`.

Shared by the model runners and the speech workers, whose deaths are reported to users.
"""

from __future__ import annotations

import signal


def describe_exit(returncode: int | None, *, running: str = "no exit status") -> str:
    """`running`: what to say when there is no return code yet."""
    if returncode is None:
        return running
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"
