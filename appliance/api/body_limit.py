"""Refuse request bodies over a size limit without buffering them: by `Content-Length` before reading, and by
counting the bytes of a chunked body as they arrive. The excess is read and dropped (up to a cap) rather than
left unread, so that the client sees the 413 instead of a reset connection."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.api.errors import PayloadTooLargeError


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server rejects a malformed Content-Length itself
            if too_large:
                await self._drain(receive)
                await self._refuse(send)
                return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if message.get("more_body", False):
                        await self._drain(receive)
                    # Raised into whoever reads the body; the error handlers answer 413.
                    raise PayloadTooLargeError(self._message())
            return message

        await self.app(scope, counting_receive, send)

    async def _drain(self, receive: Receive) -> None:
        """Read and drop the rest of the body (up to a cap), so that the client, still sending, gets to read
        the 413 instead of a connection reset."""
        drained, cap = 0, max(8 * self.max_bytes, 16 * 1024 * 1024)
        while drained <= cap:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "message": self._message(),
                    "type": "invalid_request_error",
                    "code": PayloadTooLargeError.code,
                    "param": None,
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
