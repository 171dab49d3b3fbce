"""Stop work for a client that has gone away.

Starlette cancels a streamed response when its client disconnects, but not a handler still computing a plain
JSON answer. Editors cancel superseded completion requests all the time (the user typed on), so a non-streamed
generation watches the connection too: when the ASGI server reports `http.disconnect`, the generation is
cancelled (the engine stops within a token) and the handler answers 499 to nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")

CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that closed the connection first


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (then raise ClientDisconnected).

    Call only once the request body has been read: from then on the server's `receive` yields nothing but
    the disconnect."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    raise ClientDisconnected()


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
