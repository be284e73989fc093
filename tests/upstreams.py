"""Real HTTP upstreams for the remote providers: small Starlette apps that speak OpenAI's and
Anthropic's wire formats, served by uvicorn on 127.0.0.1 in a background thread.

    with openai_upstream(reply="Hello there") as up:
        provider = OpenAIProvider("gpt", model="gpt-test", base_url=up.base_url)
        ...
        up.set(fault="cut")          # the next requests misbehave
        assert up.last.body["stream_options"] == {"include_usage": True}

`base_url` is what a provider's `base_url` setting takes: `.../v1` for OpenAI, the bare
root for Anthropic (its SDK adds `/v1`). Every request is recorded in `requests`.

Faults (`fault=`): "http_500" and "http_401" answer every route with that status and the
vendor's error body; "slow" waits `delay` seconds before answering; "stall" sends the first
chunk of a stream, then waits `delay` seconds; "cut" drops the connection halfway through
a stream; "no_finish" ends a stream cleanly but without a finish reason; "error_event"
sends the vendor's mid-stream error event; "bad_tool_json" truncates tool-call arguments.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Fault = Literal[
    "http_500", "http_401", "slow", "stall", "cut", "no_finish", "error_event", "bad_tool_json"
]


@dataclass(frozen=True)
class ToolCall:
    """A call the fake model makes; a str `arguments` is sent verbatim (any JSON, or not)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str = ""


@dataclass(frozen=True)
class Behavior:
    reply: str = "Hello there"  # streamed one word a chunk
    echo: bool = False  # reply "re: <the last message's text>" instead
    reasoning: str = ""  # streamed as reasoning before the reply
    tool_calls: tuple[ToolCall, ...] = ()
    fault: Fault | None = None
    delay: float = 5.0  # seconds, for "slow" and "stall"
    chunk_delay: float = 0.0  # seconds between stream chunks
    finish_reason: str | None = None  # sent as is; default: the vendor's stop or tool reason
    prompt_tokens: int = 9
    reasoning_field: str = "reasoning_content"  # OpenAI dialect: vLLM/DeepSeek; Ollama: reasoning
    embedding_size: int = 8
    gzip: bool = False  # the stream gzip-encoded (flushed each frame), as behind a proxy
    # Like a real model in a tool loop: make the tool calls only while the request holds
    # no tool result yet, then answer with `reply`.
    calls_once: bool = False


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the decoded JSON body, None when there is none
    client_port: int  # the same for requests sent over one kept-alive connection


class Upstream:
    """A running fake upstream: its address, what it received, and how it behaves next."""

    def __init__(self, url: str, base_url: str) -> None:
        self.url = url
        self.base_url = base_url
        self.behavior = Behavior()
        self.requests: list[Received] = []
        self.abandoned = 0  # streams the client hung up on while paused (chunk_delay, stall)

    def set(self, **changes: Any) -> None:
        """Change the behavior for the following requests, e.g. `set(fault="cut")`."""
        if "tool_calls" in changes:
            changes["tool_calls"] = tuple(changes["tool_calls"])
        self.behavior = replace(self.behavior, **changes)

    @property
    def last(self) -> Received:
        assert self.requests, "the upstream received no request"
        return self.requests[-1]

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.path == path]


def unused_url(suffix: str = "/v1") -> str:
    """An address where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{suffix}"


# --- shared plumbing -----------------------------------------------------------------


async def _wait_for_disconnect(receive: Receive, seconds: float) -> bool:
    """Sleep up to `seconds`, returning early (True) when the client hangs up."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return False
    return True


class _Stream(Response):
    """SSE frames sent as the behavior says, down to leaving the body unfinished ("cut"):
    uvicorn then closes the connection mid-body, as a crashed upstream would."""

    def __init__(self, frames: list[bytes], behavior: Behavior) -> None:
        super().__init__(media_type="text/event-stream")
        self.frames = frames
        self.behavior = behavior
        self.upstream: Upstream | None = None  # set by the endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        behavior = self.behavior
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        packer = zlib.compressobj(wbits=31) if behavior.gzip else None  # 31: gzip framing
        if packer is not None:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        cut_at = max(1, len(self.frames) // 2) if behavior.fault == "cut" else None
        for index, frame in enumerate(self.frames):
            if index == cut_at:
                return
            if packer is not None:
                frame = packer.compress(frame) + packer.flush(zlib.Z_SYNC_FLUSH)
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            pause = behavior.delay if behavior.fault == "stall" and index == 0 else 0.0
            pause = pause or behavior.chunk_delay
            if pause and await _wait_for_disconnect(receive, pause):
                if self.upstream is not None:
                    self.upstream.abandoned += 1
                return
        end = packer.flush() if packer is not None else b""
        await send({"type": "http.response.body", "body": end, "more_body": False})


Answer = Callable[[Any, Behavior], Response]


def _has_tool_result(body: Any) -> bool:
    """An OpenAI `tool` message, or an Anthropic `tool_result` block, in the request."""
    for message in (body or {}).get("messages") or []:
        if message.get("role") == "tool":
            return True
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        ):
            return True
    return False


def _endpoint(up: Upstream, errors: dict[int, Any], answer: Answer) -> Callable[..., Any]:
    """Record the request, apply a fault of the whole route if one is set, else answer."""

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        port = request.client.port if request.client else 0
        body = json.loads(raw) if raw else None
        up.requests.append(Received(request.method, request.url.path, headers, body, port))
        behavior = up.behavior
        if behavior.echo and isinstance(body, dict) and body.get("messages"):
            behavior = replace(behavior, reply=f"re: {body['messages'][-1].get('content')}")
        if behavior.fault in ("http_500", "http_401"):
            status = int(behavior.fault[5:])
            return JSONResponse(errors[status], status_code=status)
        if behavior.fault == "slow" and await _wait_for_disconnect(request.receive, behavior.delay):
            return Response(status_code=499)  # nobody is listening any more
        if behavior.calls_once:  # call first (no text), answer once a result is back
            done = _has_tool_result(body)
            behavior = replace(behavior, **({"tool_calls": ()} if done else {"reply": ""}))
        response = answer(body, behavior)
        if isinstance(response, _Stream):
            response.upstream = up
        return response

    return endpoint


def _words(text: str) -> list[str]:
    words = text.split(" ") if text else []
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _arguments(call: ToolCall, behavior: Behavior) -> str:
    text = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return text[: len(text) // 2] if behavior.fault == "bad_tool_json" else text


def _pieces(text: str) -> list[str]:
    """Arguments arrive in fragments upstream; three of them exercise the reassembly."""
    step = max(1, len(text) // 3)
    return [text[i : i + step] for i in range(0, len(text), step)] or [""]


def _completion_tokens(behavior: Behavior) -> int:
    return len(_words(behavior.reply)) + len(_words(behavior.reasoning)) + len(behavior.tool_calls)


# --- OpenAI ----------------------------------------------------------------------------


def _openai_error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


_OPENAI_ERRORS = {
    500: _openai_error(
        "The server had an error while processing your request.", "server_error", None
    ),
    401: _openai_error(
        "Incorrect API key provided: sk-wrong.", "invalid_request_error", "invalid_api_key"
    ),
}


def _openai_usage(behavior: Behavior) -> dict[str, int]:
    prompt, completion = behavior.prompt_tokens, _completion_tokens(behavior)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _openai_calls(behavior: Behavior) -> list[tuple[str, ToolCall, str]]:
    return [
        (call.id or f"call_{index}_roosttest", call, _arguments(call, behavior))
        for index, call in enumerate(behavior.tool_calls)
    ]


def _openai_finish(behavior: Behavior) -> str:
    return behavior.finish_reason or ("tool_calls" if behavior.tool_calls else "stop")


def _openai_chunks(body: dict[str, Any], behavior: Behavior) -> list[dict[str, Any]]:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base: dict[str, Any] = {"id": "chatcmpl-roosttest", "object": "chat.completion.chunk"}
    base |= {"created": int(time.time()), "model": body.get("model")}
    base |= {"system_fingerprint": "fp_roosttest"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice], **({"usage": None} if include_usage else {})}

    content = "" if behavior.reply or not behavior.tool_calls else None
    chunks = [chunk({"role": "assistant", "content": content, "refusal": None})]
    chunks += [chunk({behavior.reasoning_field: w}) for w in _words(behavior.reasoning)]
    chunks += [chunk({"content": w}) for w in _words(behavior.reply)]
    if behavior.fault == "error_event":
        return [*chunks[:2], _openai_error("The model is overloaded.", "server_error", None)]
    for index, (call_id, call, arguments) in enumerate(_openai_calls(behavior)):
        function = {"name": call.name, "arguments": ""}
        head = {"index": index, "id": call_id, "type": "function", "function": function}
        chunks.append(chunk({"tool_calls": [head]}))
        for piece in _pieces(arguments):
            fragment = {"index": index, "function": {"arguments": piece}}
            chunks.append(chunk({"tool_calls": [fragment]}))
    if behavior.fault != "no_finish":
        chunks.append(chunk({}, _openai_finish(behavior)))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _openai_usage(behavior)})
    return chunks


def _openai_chat(body: dict[str, Any], behavior: Behavior) -> Response:
    if body.get("stream"):
        frames = [
            b"data: " + json.dumps(c).encode() + b"\n\n" for c in _openai_chunks(body, behavior)
        ]
        if behavior.fault != "error_event":
            frames.append(b"data: [DONE]\n\n")
        return _Stream(frames, behavior)
    message: dict[str, Any] = {"role": "assistant", "content": behavior.reply or None}
    if behavior.tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": c.name, "arguments": a}}
            for i, c, a in _openai_calls(behavior)
        ]
    choice = {"index": 0, "message": message, "logprobs": None}
    completion: dict[str, Any] = {"id": "chatcmpl-roosttest", "object": "chat.completion"}
    completion |= {"created": int(time.time()), "model": body.get("model")}
    completion |= {"choices": [{**choice, "finish_reason": _openai_finish(behavior)}]}
    return JSONResponse({**completion, "usage": _openai_usage(behavior)})


def _openai_models(body: Any, behavior: Behavior) -> Response:
    model = {"id": "gpt-test", "object": "model", "created": 1700000000, "owned_by": "tests"}
    return JSONResponse({"object": "list", "data": [model]})


def _vector(text: str, size: int) -> list[float]:
    """A deterministic vector per text: the same text always maps to the same one."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [round(digest[i % len(digest)] / 127.5 - 1.0, 6) for i in range(size)]


def _openai_embeddings(body: dict[str, Any], behavior: Behavior) -> Response:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    size, data = behavior.embedding_size, []
    for index, text in enumerate(texts):
        vector: Any = _vector(text, size)
        if body.get("encoding_format") == "base64":  # the SDK's default when none is given
            vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(len(text.split()) for text in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})


def openai_app(up: Upstream) -> Starlette:
    errors = _OPENAI_ERRORS
    return Starlette(
        routes=[
            Route("/v1/chat/completions", _endpoint(up, errors, _openai_chat), methods=["POST"]),
            Route("/v1/models", _endpoint(up, errors, _openai_models), methods=["GET"]),
            Route("/v1/embeddings", _endpoint(up, errors, _openai_embeddings), methods=["POST"]),
        ]
    )


# --- Anthropic (streaming only: roost always streams) ------------------------------------

_ANTHROPIC_ERRORS = {
    500: {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
    401: {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    },
}
_ANTHROPIC_STOP = {"stop": "end_turn", "tool_calls": "tool_use"}


def _anthropic_blocks(behavior: Behavior) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(content_block_start block, its deltas) for thinking, text and each tool call."""
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if behavior.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": w} for w in _words(behavior.reasoning)]
        deltas.append({"type": "signature_delta", "signature": "c2lnbmF0dXJl"})
        blocks.append(({"type": "thinking", "thinking": ""}, deltas))
    if behavior.reply:
        deltas = [{"type": "text_delta", "text": w} for w in _words(behavior.reply)]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for index, call in enumerate(behavior.tool_calls):
        start: dict[str, Any] = {"type": "tool_use", "id": call.id or f"toolu_{index}_roosttest"}
        start |= {"name": call.name, "input": {}}
        pieces = ["", *_pieces(_arguments(call, behavior))]  # Anthropic starts with ""
        blocks.append((start, [{"type": "input_json_delta", "partial_json": p} for p in pieces]))
    return blocks


def _anthropic_events(body: dict[str, Any], behavior: Behavior) -> list[dict[str, Any]]:
    message: dict[str, Any] = {"id": "msg_roosttest", "type": "message", "role": "assistant"}
    message |= {"model": body.get("model"), "content": [], "stop_reason": None}
    message |= {"stop_sequence": None}
    message["usage"] = {"input_tokens": behavior.prompt_tokens, "output_tokens": 1}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    events.append({"type": "ping"})
    for index, (start, deltas) in enumerate(_anthropic_blocks(behavior)):
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        for delta in deltas:
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
            if behavior.fault == "error_event":
                failure = {"type": "overloaded_error", "message": "Overloaded"}
                return [*events, {"type": "error", "error": failure}]
        events.append({"type": "content_block_stop", "index": index})
    if behavior.fault != "no_finish":
        default = _ANTHROPIC_STOP["tool_calls" if behavior.tool_calls else "stop"]
        delta = {"stop_reason": behavior.finish_reason or default, "stop_sequence": None}
        usage = {"output_tokens": _completion_tokens(behavior)}
        events.append({"type": "message_delta", "delta": delta, "usage": usage})
        events.append({"type": "message_stop"})
    return events


def _anthropic_messages(body: dict[str, Any], behavior: Behavior) -> Response:
    events = _anthropic_events(body, behavior)
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return _Stream(frames, behavior)


def _anthropic_models(body: Any, behavior: Behavior) -> Response:
    model = {"type": "model", "id": "claude-test", "display_name": "Claude Test"}
    model["created_at"] = "2025-01-01T00:00:00Z"
    page = {"data": [model], "has_more": False, "first_id": "claude-test"}
    return JSONResponse({**page, "last_id": "claude-test"})


def anthropic_app(up: Upstream) -> Starlette:
    errors = _ANTHROPIC_ERRORS
    return Starlette(
        routes=[
            Route("/v1/messages", _endpoint(up, errors, _anthropic_messages), methods=["POST"]),
            Route("/v1/models", _endpoint(up, errors, _anthropic_models), methods=["GET"]),
        ]
    )


# --- serving ---------------------------------------------------------------------------


@contextmanager
def _serve(
    behavior: dict[str, Any], app: Callable[[Upstream], Starlette], suffix: str, port: int = 0
) -> Iterator[Upstream]:
    unknown = set(behavior) - {f.name for f in fields(Behavior)}
    if unknown:
        raise TypeError(f"unknown upstream behavior: {', '.join(sorted(unknown))}")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    up = Upstream(url, url + suffix)
    up.set(**behavior)
    config = uvicorn.Config(
        app(up),
        lifespan="off",
        ws="none",
        loop="asyncio",
        log_config=None,  # leave the test process's logging alone
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake upstream did not start")
            time.sleep(0.005)
        yield up
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def openai_upstream(port: int = 0, **behavior: Any) -> AbstractContextManager[Upstream]:
    """An OpenAI-compatible server: /v1/chat/completions, /v1/models, /v1/embeddings.
    `port`: listen there (e.g. where a refused connection was tested); 0 picks a free one."""
    return _serve(behavior, openai_app, "/v1", port)


def anthropic_upstream(port: int = 0, **behavior: Any) -> AbstractContextManager[Upstream]:
    """An Anthropic-compatible server: /v1/messages (streaming) and /v1/models."""
    return _serve(behavior, anthropic_app, "", port)
