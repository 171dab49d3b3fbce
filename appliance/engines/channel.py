"""Chunks from an engine's worker thread to the event loop of the request that asked for them: what the
in-process engines share. The worker calls `put` (thread-safe); the request iterates `chunks()`, which raises
an error the worker sent and ends after the chunk that carries a finish reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from appliance.engines.protocol import GenerationChunk


class ChunkChannel:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[GenerationChunk | BaseException] = asyncio.Queue()

    def put(self, item: GenerationChunk | BaseException) -> bool:
        """From any thread; False when nobody can listen any more (the request's loop is gone)."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            return False
        return True

    async def chunks(self) -> AsyncIterator[GenerationChunk]:
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.finish_reason is not None:
                return
