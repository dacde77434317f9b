"""A request log: every exchange the server handled, for tests and debugging.

Opt-in (``sim.serve(record=True)``), because keeping bodies costs memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    request_body: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


class RecordingMiddleware:
    """Pure ASGI, so it adds no thread hops; ``exchanges`` grows in arrival order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), b"")
        chunks: list[bytes] = []

        async def recv() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def snd(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                                    for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                exchange.body += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, recv, snd)
        finally:
            exchange.request_body = b"".join(chunks)
            with self._lock:
                self.exchanges.append(exchange)
