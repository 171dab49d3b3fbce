"""One generation as the gateway runs it: open the engine stream, wait for the first chunk (so queue-full and
engine failures still get a proper HTTP status), then hand out chunks; metrics, stage timings and the usage
event are recorded exactly once, however the generation ends (finished, client gone, engine failure)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from appliance.api.errors import describe
from appliance.api.services import Services
from appliance.api.timing import StageTimer
from appliance.api.usage import UsageRecord
from appliance.api.wire.common import Usage
from appliance.auth.principal import Principal
from appliance.engines.errors import EngineError
from appliance.engines.protocol import Engine, GenerationChunk, GenerationRequest

log = logging.getLogger("codemoat.api")


@dataclass(slots=True)
class Outcome:
    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
        )


class GenerationRun:
    def __init__(
        self,
        services: Services,
        engine: Engine,
        principal: Principal,
        timer: StageTimer,
        *,
        endpoint: str,
        request: GenerationRequest,
        stream: bool,
        repo: str | None = None,
        language: str | None = None,
        prompt_tokens: int | None = None,
    ) -> None:
        self.services = services
        self.engine = engine
        self.principal = principal
        self.timer = timer
        self.endpoint = endpoint
        self.request = request
        self.stream = stream
        self.repo = repo
        self.language = language
        # Until the engine's last chunk reports exact counts: the prompt builder's count, one token per chunk.
        self.outcome = Outcome(prompt_tokens=prompt_tokens or 0)
        self._chunks = 0
        self._stopping = False
        self._iterator: AsyncIterator[GenerationChunk] | None = None
        self._first: GenerationChunk | None = None
        self._ttft: float | None = None
        self._finished = False
        self._engine_started = time.perf_counter()

    async def start(self) -> None:
        """Open the engine stream and wait for its first chunk. Engine errors raised here become the HTTP
        answer (429, 400, 503) since nothing has been sent yet."""
        metrics = self.services.metrics
        started = self._engine_started = time.perf_counter()
        metrics.in_flight.inc()
        try:
            self._iterator = aiter(self.engine.stream(self.request))
            self._first = await anext(self._iterator)
        except StopAsyncIteration:
            self._first = GenerationChunk(text="", finish_reason="stop")
        except asyncio.CancelledError:
            # The client left while the request queued or the prompt was being read.
            self.outcome.finish_reason = "cancelled"
            await self._finish(status=499, error=None)
            raise
        except BaseException as exc:
            await self._finish(status=_status_of(exc), error=exc)
            raise
        self._ttft = time.perf_counter() - started
        self.timer.add("ttft", self._ttft)

    async def chunks(self) -> AsyncIterator[GenerationChunk]:
        """The chunks, first one included. Closing this iterator early (client gone) cancels the
        generation."""
        if self._first is None or self._iterator is None:
            raise RuntimeError("start() must succeed before chunks()")
        status = 200
        error: BaseException | None = None
        try:
            chunk = self._first
            while True:
                self._absorb(chunk)
                yield chunk
                if chunk.finish_reason is not None:
                    break
                try:
                    chunk = await anext(self._iterator)
                except StopAsyncIteration:
                    break
        except BaseException as exc:  # GeneratorExit / CancelledError when the client leaves
            if isinstance(exc, GeneratorExit) and self._stopping:
                self.outcome.finish_reason = "stop"  # we ended it: the completion was complete
            elif isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
                self.outcome.finish_reason = "cancelled"
                status = 499  # nginx's "client closed request", for the usage record only
            else:
                status, error = _status_of(exc), exc
            raise
        finally:
            await self._finish(status=status, error=error)

    async def collect(self) -> Outcome:
        async for _ in self.chunks():
            pass
        return self.outcome

    def stop_early(self) -> None:
        """Mark the generation as complete before the model finished: closing `chunks()` now is no cancel."""
        self._stopping = True

    def _absorb(self, chunk: GenerationChunk) -> None:
        self._chunks += 1
        if chunk.completion_tokens is None:
            self.outcome.completion_tokens = self._chunks
        self.outcome.text += chunk.text
        if chunk.finish_reason is not None:
            self.outcome.finish_reason = chunk.finish_reason
        if chunk.prompt_tokens is not None:
            self.outcome.prompt_tokens = chunk.prompt_tokens
        if chunk.completion_tokens is not None:
            self.outcome.completion_tokens = chunk.completion_tokens

    async def _finish(self, *, status: int, error: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        if self._iterator is not None:
            closer = getattr(self._iterator, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:  # the generation is over either way; its cleanup must not mask the outcome
                    log.exception("engine stream did not close cleanly")
        metrics = self.services.metrics
        metrics.in_flight.dec()
        self.timer.stages["engine"] = time.perf_counter() - self._engine_started
        total = self.timer.elapsed()
        self.timer.stages["total"] = total
        for stage, seconds in self.timer.stages.items():
            metrics.observe_stage(self.endpoint, stage, seconds)  # type: ignore[arg-type]
        if isinstance(error, EngineError):
            metrics.engine_errors.labels(error.code).inc()
        outcome = self.outcome
        if error is None:
            if self.endpoint == "completion" and status == 200:
                self.services.completion_latency.record(total)
            metrics.generations.labels(self.endpoint, outcome.finish_reason or "stop").inc()
            metrics.tokens.labels(self.endpoint, "prompt").inc(outcome.prompt_tokens)
            metrics.tokens.labels(self.endpoint, "completion").inc(outcome.completion_tokens)
        self.services.usage.record(
            UsageRecord(
                kind=self.endpoint,
                model=self.engine.model_id,
                user_id=self.principal.user_id,
                token_id=self.principal.token_id,
                status=status,
                finish_reason=outcome.finish_reason,
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                latency_ms=total * 1000,
                ttft_ms=self._ttft * 1000 if self._ttft is not None else None,
                repo=self.repo,
                language=self.language,
                stream=self.stream,
            )
        )


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
        return 499
    shape = describe(exc)
    return shape.status if shape is not None else 500
