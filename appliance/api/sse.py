"""Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, then `data: [DONE]\n\n`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from pydantic import BaseModel
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("codemoat.api")

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering of the stream
MEDIA_TYPE = "text/event-stream"


def event(model: BaseModel) -> bytes:
    return b"data: " + model.model_dump_json(exclude_none=False).encode() + b"\n\n"


def stream_error(exc: BaseException) -> dict[str, object]:
    """The OpenAI error body for a failure after the stream started; internals stay in the server log."""
    from appliance.api.errors import describe

    shape = describe(exc)
    if shape is None:
        log.error("unexpected error in a stream", exc_info=exc)
        return {
            "error": {
                "message": "internal server error",
                "type": "server_error",
                "code": "internal_error",
                "param": None,
            }
        }
    return shape.body()


def error_event(body: dict[str, object]) -> bytes:
    """An error after the stream has started (headers already sent): the OpenAI SDK raises it as APIError."""
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse that always closes its body iterator: when the client goes away Starlette cancels
    the send, and the generator (hence the engine stream inside it) would otherwise be left suspended."""

    media_type = MEDIA_TYPE

    def __init__(self, content: AsyncIterator[bytes], *, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, headers={**HEADERS, **(headers or {})})
        self._events = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            closer = getattr(self._events, "aclose", None)
            if closer is not None:
                await closer()
