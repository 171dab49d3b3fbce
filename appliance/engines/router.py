"""An Engine that spreads requests over several upstream servers (vLLM replicas, llama.cpp, CodeMoats).

- Least outstanding requests wins; ties go to the upstream that has served fewer.
- Requests sharing an `affinity_key` (same repository and file) prefer one upstream, chosen by rendezvous
  hashing among the healthy ones, so its prefix cache hits; when that one is overloaded, least outstanding.
- An upstream that refuses connections or drops them is taken out; a background probe re-admits it.
- A request that fails before anything was streamed is retried once on another upstream."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from appliance.engines.errors import (
    EngineError,
    EngineRequestError,
    EngineUnavailableError,
    UpstreamError,
)
from appliance.engines.protocol import GenerationChunk, GenerationRequest, Suspendable, validate_request
from appliance.engines.upstream import UpstreamEngine

log = logging.getLogger(__name__)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


@dataclass
class UpstreamState:
    engine: UpstreamEngine
    healthy: bool = True
    outstanding: int = 0
    served: int = 0  # requests completed here
    failures: int = 0  # requests that failed here

    @property
    def url(self) -> str:
        return self.engine.url


def rendezvous_order(key: str, urls: Sequence[str]) -> list[str]:
    """Highest-random-weight order of `urls` for `key`: removing one URL moves only the keys it held."""

    def weight(url: str) -> bytes:
        return hashlib.blake2b(f"{url}\0{key}".encode(), digest_size=8).digest()

    return sorted(urls, key=weight, reverse=True)


class RouterEngine:
    def __init__(
        self,
        upstreams: Sequence[UpstreamEngine],
        *,
        model_id: str | None = None,
        family: str | None = None,
        health_check_interval_s: float = 10.0,
        max_outstanding_per_upstream: int = 16,
        owned: Sequence[_Closable] = (),
    ) -> None:
        """`owned`: things to close with the router (a VllmSupervisor that runs the upstreams)."""
        if not upstreams:
            raise EngineUnavailableError("no upstream servers are configured")
        self.upstreams = [UpstreamState(engine) for engine in upstreams]
        self.family = family or upstreams[0].family
        self._model_id = model_id
        self._interval = health_check_interval_s
        self._max_outstanding = max_outstanding_per_upstream
        self._owned = list(owned)
        self._prober: asyncio.Task[None] | None = None
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.retries = 0

    # -- Engine protocol ---------------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._model_id or self.upstreams[0].engine.model_id

    @property
    def context_length(self) -> int:
        return min(u.engine.context_length for u in self.upstreams)

    def count_tokens(self, text: str) -> int:
        return self.upstreams[0].engine.count_tokens(text)

    async def ready(self) -> bool:
        self._start_prober()
        await self.probe()
        return any(u.healthy for u in self.upstreams)

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        return None  # nothing loads here: a request to an unhealthy pool fails with its own reason

    async def aclose(self) -> None:
        if self._prober is not None and self._loop is asyncio.get_running_loop():
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
            self._prober = None
        for upstream in self.upstreams:
            await upstream.engine.aclose()
        for owned in self._owned:
            await owned.aclose()

    def suspend(self, reason: str) -> None:
        """Stop the model servers this router runs (vLLM replicas drop their weights with their process).
        Upstreams it was only given keep running: the license gate refuses requests instead."""
        for owned in self._owned:
            if isinstance(owned, Suspendable):
                owned.suspend(reason)

    def resume(self) -> None:
        for owned in self._owned:
            if isinstance(owned, Suspendable):
                owned.resume()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        validate_request(request)
        self._start_prober()
        tried: set[str] = set()
        first_error: EngineError | None = None
        for attempt in range(2):
            upstream = self._pick(request.affinity_key, exclude=tried)
            if upstream is None:
                if first_error is not None:
                    raise first_error
                raise EngineUnavailableError("no upstream model server is healthy; try again shortly")
            tried.add(upstream.url)
            upstream.outstanding += 1
            streamed = False
            try:
                async for chunk in upstream.engine.stream(request):
                    streamed = True
                    if chunk.finish_reason is not None:
                        chunk = dataclasses.replace(chunk, extra={**chunk.extra, "upstream": upstream.url})
                    yield chunk
                upstream.served += 1
                return
            except EngineRequestError:
                raise
            except EngineError as exc:
                upstream.failures += 1
                if _means_down(exc):
                    await self._set_health(upstream, False, reason=str(exc))
                if streamed or attempt == 1:
                    raise
                log.warning("retrying request %s elsewhere: %s", request.request_id or "-", exc)
                self.retries += 1
                first_error = exc
            finally:
                upstream.outstanding -= 1

    # -- choosing ----------------------------------------------------------------------------------------

    def _pick(self, affinity_key: str | None, *, exclude: set[str]) -> UpstreamState | None:
        candidates = [u for u in self.upstreams if u.healthy and u.url not in exclude]
        if not candidates:
            return None
        if affinity_key:
            by_url = {u.url: u for u in candidates}
            preferred = by_url[rendezvous_order(affinity_key, list(by_url))[0]]
            if preferred.outstanding < self._max_outstanding:
                return preferred
        return min(candidates, key=lambda u: (u.outstanding, u.served))

    # -- health ------------------------------------------------------------------------------------------

    async def probe(self) -> None:
        """Check every upstream now and update which are in rotation."""
        results = await asyncio.gather(*(u.engine.ready() for u in self.upstreams))
        for upstream, healthy in zip(self.upstreams, results):
            await self._set_health(upstream, healthy, reason="health check failed")

    async def wait_until(self, predicate: Callable[["RouterEngine"], bool], timeout: float) -> None:
        """Wait until `predicate(router)` holds after a health change (e.g. an upstream re-admitted)."""
        condition = self._condition()
        async with asyncio.timeout(timeout), condition:
            await condition.wait_for(lambda: predicate(self))

    def healthy_urls(self) -> list[str]:
        return [u.url for u in self.upstreams if u.healthy]

    def _condition(self) -> asyncio.Condition:
        return self._start_prober()  # also rebinds the condition when the event loop changed

    async def _set_health(self, upstream: UpstreamState, healthy: bool, *, reason: str) -> None:
        if upstream.healthy == healthy:
            return
        upstream.healthy = healthy
        if healthy:
            log.info("upstream %s is back in rotation", upstream.url)
        else:
            log.warning("upstream %s taken out of rotation: %s", upstream.url, reason)
        condition = self._condition()
        async with condition:
            condition.notify_all()

    def _start_prober(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop:  # a new event loop: the old one's task is gone
            self._loop, self._prober, self._changed = loop, None, asyncio.Condition()
        if self._prober is None or self._prober.done():
            self._prober = loop.create_task(self._probe_forever(), name="upstream-prober")
        return self._changed

    async def _probe_forever(self) -> None:
        while True:
            try:
                await self.probe()
            except Exception:  # a probe must never kill the prober
                log.exception("upstream health probe failed")
            await asyncio.sleep(self._interval)


def _means_down(exc: EngineError) -> bool:
    """Connection refused or dropped, or the server says it is unavailable: take it out until a probe passes."""
    if isinstance(exc, UpstreamError):
        return exc.connection_lost
    return isinstance(exc, EngineUnavailableError)
