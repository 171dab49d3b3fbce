"""A decorator over any Engine that bounds how many requests run at once and how many may wait.

Past the bound a request fails at once with QueueFullError carrying a Retry-After estimate, so the API answers
429 instead of letting latency grow without limit. Waiting requests are served in arrival order."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

from appliance.engines.errors import EngineRequestError, QueueFullError
from appliance.engines.protocol import Engine, GenerationChunk, GenerationRequest, Suspendable

_SMOOTHING = 0.2  # weight of the newest request in the moving average of request durations


class BoundedEngine:
    def __init__(
        self,
        inner: Engine,
        *,
        max_concurrent: int,
        max_queue: int,
        queue_timeout_s: float = 60.0,
    ) -> None:
        if max_concurrent < 1 or max_queue < 0:
            raise EngineRequestError("max_concurrent must be at least 1 and max_queue at least 0")
        self.inner = inner
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.active = 0  # requests generating now
        self.queued = 0  # requests waiting for a slot: the queue-depth gauge
        self.rejected = 0  # requests refused with QueueFullError
        self._slots = asyncio.Semaphore(max_concurrent)
        self._mean_seconds = 1.0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def family(self) -> str:
        return self.inner.family

    @property
    def context_length(self) -> int:
        return self.inner.context_length

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    async def ready(self) -> bool:
        return await self.inner.ready()

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        await self.inner.wait_until_ready(timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def suspend(self, reason: str) -> None:
        if isinstance(self.inner, Suspendable):
            self.inner.suspend(reason)

    def resume(self) -> None:
        if isinstance(self.inner, Suspendable):
            self.inner.resume()

    def retry_after(self) -> float:
        """Seconds until a slot is likely free: the queue ahead drained at the mean request duration."""
        ahead = self.queued + 1
        return float(min(60, max(1, math.ceil(self._mean_seconds * ahead / self.max_concurrent))))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        if self._slots.locked() and self.queued >= self.max_queue:
            self.rejected += 1
            raise QueueFullError(
                f"the model is busy ({self.active} running, {self.queued} waiting); retry later",
                retry_after=self.retry_after(),
            )
        self.queued += 1
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            self.rejected += 1
            raise QueueFullError(
                f"waited {self.queue_timeout_s:.0f} s for the model without getting a turn; retry later",
                retry_after=self.retry_after(),
            ) from None
        finally:
            self.queued -= 1
        self.active += 1
        started = time.monotonic()
        try:
            async for chunk in self.inner.stream(request):
                yield chunk
        finally:
            self.active -= 1
            self._slots.release()
            elapsed = time.monotonic() - started
            self._mean_seconds += _SMOOTHING * (elapsed - self._mean_seconds)
