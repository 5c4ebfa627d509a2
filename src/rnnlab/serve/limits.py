"""Request limits applied before any route runs (a raw ASGI middleware, so no handler sees an oversized or
mistyped body): POST bodies must be JSON, and no body may exceed `max_body` bytes, whether it declares its
Content-Length or streams in chunks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rnnlab.serve.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY_METHODS = ("POST", "PUT", "PATCH")


async def _reply(send: Send, status: int, message: str) -> None:
    body = error_body(message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """413 for a body over `max_body` bytes (declared or counted as it arrives), 415 for a POST body that is
    not application/json, 400 for a malformed Content-Length; the body is then replayed to the app."""

    def __init__(self, app: Callable, max_body: int) -> None:
        self.app = app
        self.max_body = int(max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _reply(
                    send, 400, f"Content-Length {declared[:20]!r} is not a number; send a valid header"
                )
                return
            if length > self.max_body:
                await _reply(send, 413, self._too_big(length))
                return
        streamed = b"chunked" in headers.get(b"transfer-encoding", b"")
        has_body = streamed or (declared is not None and int(declared) > 0)
        if scope["method"] in BODY_METHODS and has_body:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if ctype != b"application/json":
                got = ctype.decode("latin-1") or "none"
                await _reply(
                    send,
                    415,
                    f"Content-Type {got} is not accepted; send JSON with Content-Type: application/json",
                )
                return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body:
                await _reply(send, 413, self._too_big(total, counted=True))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the client to disconnect

        await self.app(scope, replay, send)

    def _too_big(self, size: int, counted: bool = False) -> str:
        what = f"more than {self.max_body}" if counted else str(size)
        return (
            f"the body is {what} bytes, over this server's limit of {self.max_body}; send smaller requests "
            "(split a batch) or start the server with a larger max_body"
        )
