"""The comparison server for websocket.py: a bare Starlette WebSocket app on uvicorn that
answers each text message with `{"type":"pong"}`, with the same uvicorn WebSocket options
roost uses. Run: python -m benchmarks._echo_ws PORT"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.receive_text()
            await websocket.send_text('{"type":"pong"}')
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[WebSocketRoute("/ws", echo)])

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        ws_max_size=1_048_576,
        ws_per_message_deflate=False,
    )
