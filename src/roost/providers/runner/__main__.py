"""`python -m roost.providers.runner --fd N --spec JSON`: one model's runner process.

Loads the model, says `ready`, then serves frames until the server closes its end of the
channel (or dies: the kernel then sends this process SIGKILL, see `_die_with_parent`).
Requests run as tasks; the in-process LlamaCppProvider does the work in its threads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from roost.config import ModelSettings
from roost.core.errors import ProviderError, RoostError
from roost.providers import llamacpp_cpu, orphans
from roost.providers.llamacpp import LlamaCppProvider
from roost.providers.runner import protocol


class Runner:
    def __init__(self, provider: LlamaCppProvider, writer: asyncio.StreamWriter) -> None:
        self._provider = provider
        self._writer = writer
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def send(self, frame: dict[str, Any]) -> None:
        self._writer.write(protocol.pack(frame))

    async def serve(self, reader: asyncio.StreamReader) -> None:
        while (frame := await protocol.read_frame(reader)) is not None:
            op, request_id = frame.get("op"), int(frame.get("id", 0))
            if op == "cancel":
                task = self._tasks.get(request_id)
                if task is not None:
                    task.cancel()
                continue
            # Said at once: a request the runner never saw can safely go to its successor.
            self.send({"id": request_id, "ev": "accepted"})
            task = asyncio.create_task(self._handle(op, request_id, frame))
            self._tasks[request_id] = task
            task.add_done_callback(self._forget)
            await self._writer.drain()

    def _forget(self, task: asyncio.Task[None]) -> None:
        for request_id, known in list(self._tasks.items()):
            if known is task:
                del self._tasks[request_id]

    async def _handle(self, op: Any, request_id: int, frame: dict[str, Any]) -> None:
        try:
            if op == "chat":
                request = protocol.decode_request(frame["request"])
                async with contextlib.aclosing(self._provider.stream(request)) as events:
                    async for event in events:
                        self.send(protocol.encode_event(request_id, event))
            elif op == "render":
                prompt = await self._provider.render_prompt(
                    protocol.decode_request(frame["request"])
                )
                self.send({"id": request_id, "ev": "result", "value": prompt})
            elif op == "count":
                messages = protocol.decode_messages(frame["messages"])
                count = await self._provider.count_tokens(messages)
                self.send({"id": request_id, "ev": "result", "value": count})
            elif op == "embed":
                result = await self._provider.embed(list(frame["texts"]))
                self.send(
                    {
                        "id": request_id,
                        "ev": "result",
                        "value": {"vectors": result.vectors, "tokens": result.prompt_tokens},
                    }
                )
            else:
                raise ProviderError(f"the model runner does not know the request {op!r}")
            self.send({"id": request_id, "ev": "end"})
        except asyncio.CancelledError:
            self.send({"id": request_id, "ev": "end"})
        except RoostError as exc:
            self.send(protocol.encode_error(request_id, exc))
        except Exception as exc:  # reported to the one request, the runner carries on
            error = ProviderError(f"model '{self._provider.name}' failed: {exc}")
            self.send(protocol.encode_error(request_id, error))


async def _main(fd: int, spec: dict[str, Any]) -> int:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    path = Path(spec["path"])
    if spec.get("extra_bufts") is not None:
        llamacpp_cpu.remember(path, bool(spec["extra_bufts"]))
    settings = ModelSettings.model_validate(spec["settings"])
    provider = LlamaCppProvider(spec["name"], settings, path)
    try:
        await provider.load()
    except RoostError as exc:
        failed = {"op": "load_failed", "error": exc.message, "code": exc.code}
        writer.write(protocol.pack(failed))
        await writer.drain()
        return 3
    template = provider.template
    if template is not None and template.notes:  # the server logs what its runner prints
        print(f"chat template: {'; '.join(template.notes)}", file=sys.stderr, flush=True)
    writer.write(
        protocol.pack(
            {"op": "ready", "pid": os.getpid(), "extra_bufts": llamacpp_cpu.verdict(path)}
        )
    )
    await writer.drain()
    # The server going away mid-frame leaves nothing to answer.
    with contextlib.suppress(OSError, protocol.ProtocolError):
        await Runner(provider, writer).serve(reader)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="roost-runner")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args(argv)
    orphans.die_with_parent()
    code = asyncio.run(_main(args.fd, json.loads(args.spec)))
    sys.stdout.flush()
    # Skip interpreter teardown: llama.cpp's destructors have nothing left to save.
    os._exit(code)


if __name__ == "__main__":
    main()
