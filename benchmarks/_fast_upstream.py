"""A minimal, fast OpenAI-compatible model server for measuring proxy overhead.

Raw asyncio (uvloop when present) and prebuilt responses, so the upstream costs as
little CPU as possible and what is measured is roost. Each streamed reply is TOKENS
content chunks `DELAY_MS` apart (a model producing tokens), a finish chunk, a usage
chunk and `[DONE]`. Run: python benchmarks/_fast_upstream.py PORT TOKENS DELAY_MS
"""

from __future__ import annotations

import asyncio
import json
import sys

HEAD = {
    "id": "chatcmpl-fast",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "fast",
}


def _frame(payload: object) -> bytes:
    data = f"data: {json.dumps(payload)}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    return _frame({**HEAD, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def build(tokens: int) -> tuple[list[bytes], bytes, bytes]:
    stream = [_chunk({"role": "assistant", "content": ""})]
    stream += [_chunk({"content": f" word{i}"}) for i in range(tokens)]
    stream.append(_chunk({}, "stop"))
    usage = {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens}
    stream.append(_frame({**HEAD, "choices": [], "usage": usage}))
    done = b"data: [DONE]\n\n"
    stream.append(f"{len(done):x}\r\n".encode() + done + b"\r\n")
    stream.append(b"0\r\n\r\n")
    models = json.dumps(
        {"object": "list", "data": [{"id": "fast", "object": "model", "owned_by": "me"}]}
    ).encode()
    models_response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(models)).encode()
        + b"\r\n\r\n"
        + models
    )
    stream_head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    return stream, stream_head, models_response


async def serve(port: int, tokens: int, delay: float) -> None:
    chunks, stream_head, models_response = build(tokens)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET"):
                    writer.write(models_response)
                    continue
                writer.write(stream_head + chunks[0])
                for chunk in chunks[1:-4]:
                    if delay:
                        await asyncio.sleep(delay)
                    writer.write(chunk)
                writer.write(b"".join(chunks[-4:]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    port, tokens, delay_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(serve(port, tokens, delay_ms / 1000))


if __name__ == "__main__":
    main()
