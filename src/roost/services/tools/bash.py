"""bash: run a shell command in the user's workspace folder (off unless [tools] bash).

The command runs in a bubblewrap sandbox (sandbox.py: the workspace and read-only system
folders only, its own PID namespace, no network unless [tools] bash_network) unless the
operator chose [tools] bash_sandbox = "none"; without bwrap it is refused. It gets no
stdin, a minimal environment (nothing of the server's: no keys, tokens or passwords), its
own process group — killed whole on timeout, on cancellation, and when the command ends
(background jobs do not outlive the call; in the sandbox, its whole PID namespace goes) —
and its output (stdout and stderr interleaved) is kept within the configured size while it
is read.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from typing import Any

from roost.providers.base import ToolSpec
from roost.services.tools.args import parse, schema
from roost.services.tools.base import ToolContext, ToolError
from roost.services.tools.sandbox import command_line, environment, find_bwrap

MAX_COMMAND_CHARS = 16_000
READ_BYTES = 65_536
# Output past the cap is read and dropped so the command is not blocked on a full pipe;
# a command that keeps writing this much more is stopped rather than left to spin.
MAX_DROPPED_CHARS = 64 << 20
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def command_env(home: str) -> dict[str, str]:
    """A fresh environment: what a shell needs, nothing the server was given."""
    return {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "HOME": home,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }


class Output:
    """The start and the end of a stream, within `limit` characters in all."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit - limit // 2
        self._tail_limit = limit // 2
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head: list[str] = []
        self._head_size = 0
        self._tail = ""
        self.dropped = 0  # characters between head and tail that were not kept

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self._decoder.decode(data, final)
        room = self._head_limit - self._head_size
        if room > 0:
            self._head.append(text[:room])
            self._head_size += min(room, len(text))
            text = text[room:]
        if text:
            tail = self._tail + text
            self.dropped += max(0, len(tail) - self._tail_limit)
            self._tail = tail[-self._tail_limit :] if self._tail_limit else ""

    def text(self) -> str:
        head = "".join(self._head)
        if not self.dropped:
            return head + self._tail
        return f"{head}\n[… {self.dropped} characters of output cut …]\n{self._tail}"


class Bash:
    dangerous = True
    spec = ToolSpec(
        name="bash",
        description=(
            "Run a bash command in the workspace folder and return its output (stdout and "
            "stderr together) and exit code. It runs in a sandbox: only the workspace is "
            "writable (and a /tmp that is emptied after each call), and the network may be "
            "off. No input is available (stdin is empty), the environment is minimal (no "
            "credentials), and the command is killed after the "
            "time limit. Background processes are stopped when the command ends. Long "
            "output keeps its start and end."
        ),
        parameters=schema(
            {
                "command": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_COMMAND_CHARS,
                    "description": "The command line, e.g. 'ls -la' or 'grep -rn TODO .'",
                }
            },
            "command",
        ),
    )

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        if not context.settings.bash:
            raise ToolError("the bash tool is turned off ([tools] bash = false)")
        root = context.workspace.root
        argv = ["bash", "-c", args.string("command")]
        env = command_env(str(root))
        if context.settings.bash_sandbox == "bubblewrap":
            argv = command_line(
                find_bwrap(),
                root,
                argv,
                network=context.settings.bash_network,
                home=context.settings.home,
            )
            env = environment(root)  # bwrap's own environment too: /proc/1/environ shows it
        timeout = context.settings.bash_timeout
        output = Output(context.settings.output_chars)
        # Our own pipe rather than asyncio's: asyncio's wait() also waits for its pipes to
        # close, which a process that left the group could put off for ever; ours is
        # simply closed when the call ends.
        stream, transport, write_end = await _pipe()
        try:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=root,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=write_end,
                    stderr=write_end,
                    start_new_session=True,  # its own process group, to kill it whole
                )
            except OSError as exc:
                raise ToolError(f"{argv[0]} could not be started: {exc.strerror}") from None
            finally:
                os.close(write_end)  # the command's copies are the only writers left
            try:
                async with asyncio.timeout(timeout):
                    ending = await _collect(process, stream, output)
            except TimeoutError:
                ending = f"timed out after {timeout:g} s; the command was killed"
            finally:
                _kill_group(process)
                await process.wait()
        finally:
            transport.close()
        text = output.text()
        if text and not text.endswith("\n"):
            text += "\n"
        report = f"{text}[{ending or f'exit code {process.returncode}'}]"
        if ending or process.returncode != 0:
            raise ToolError(report)
        return report


async def _pipe() -> tuple[asyncio.StreamReader, asyncio.ReadTransport, int]:
    """A pipe whose read end is an asyncio stream; returns the stream, its transport
    and the write end's descriptor."""
    read_end, write_end = os.pipe()
    stream = asyncio.StreamReader(limit=2 * READ_BYTES)
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(read_end, "rb", buffering=0)
        )
    except BaseException:
        os.close(write_end)
        raise
    return stream, transport, write_end


async def _collect(
    process: asyncio.subprocess.Process, stream: asyncio.StreamReader, output: Output
) -> str:
    """Read until every writer has closed the pipe and bash has exited; returns why it
    stopped early, or ""."""
    exited = asyncio.ensure_future(process.wait())
    read: asyncio.Future[bytes] | None = None
    try:
        while True:
            read = asyncio.ensure_future(stream.read(READ_BYTES))
            done, _ = await asyncio.wait({read, exited}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                # bash has ended; what it left running in the background holds the pipe
                # open: stop the group, then read what is left.
                _kill_group(process)
            data = await read
            if not data:
                break
            output.feed(data)
            if output.dropped > MAX_DROPPED_CHARS:
                return f"stopped after more than {MAX_DROPPED_CHARS >> 20} MiB of output"
        output.feed(b"", final=True)
        await exited  # the pipe can close a moment before the process is gone
        return ""
    finally:
        for task in (read, exited):
            if task is not None:
                task.cancel()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
