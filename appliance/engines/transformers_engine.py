"""The embedded CPU engine: a transformers causal LM in this process, run by one worker thread.

The worker loads the model (in the background, so the server can answer /healthz meanwhile), then runs every
forward pass: prompts by chunks, and the decode of all running requests as one batch (batching.DecodeBatch).
The event loop never runs model code, concurrent requests share the CPU fairly, and a cancelled request
stops within one token."""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.engines.batching import DecodeBatch
from appliance.engines.channel import ChunkChannel
from appliance.engines.config import EngineSettings
from appliance.engines.errors import (
    ContextLengthExceeded,
    EngineError,
    EngineRequestError,
    EngineUnavailableError,
)
from appliance.engines.generation import Sequence
from appliance.engines.loading import failed_load, load_result, new_load, wait_for_load
from appliance.engines.model_files import LoadedModel, SealedLoader, load_model
from appliance.engines.protocol import GenerationChunk, GenerationRequest, validate_request
from appliance.engines.token_count import count_tokens

log = logging.getLogger(__name__)

_SHUTDOWN = object()
_RESUME = object()
DEFAULT_CONTEXT_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class _Unload:
    reason: str


class TransformersEngine:
    """Engine over a local transformers model; `model_path=None` serves the bundled SmolLM2, a sealed
    directory loads through `sealed_loader` (the license). `suspend` unloads the model, `resume` loads it
    again: the license heartbeat drives both."""

    def __init__(
        self, settings: EngineSettings, home: Path, *, sealed_loader: SealedLoader | None = None
    ) -> None:
        self.model_id = settings.served_model_id()
        self.family = settings.served_family()
        self.tokens_generated = 0  # total over the engine's life, for metrics and tests
        self.load_seconds: float | None = None
        self.load_source: str | None = None
        self.loads = 0  # successful model loads: a resume after a suspend adds one
        self._settings = settings
        self._sealed_loader = sealed_loader
        self._home = home
        self._loaded: Future[LoadedModel] = new_load()
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._live: set[Sequence] = set()
        self._live_lock = threading.Lock()
        self._closed = False
        self._worker = threading.Thread(target=self._serve, name=f"engine-{self.model_id}", daemon=True)
        self._worker.start()

    # -- Engine protocol ---------------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        if self._settings.context_length is not None:
            return self._settings.context_length
        if not self._loaded.done() or self._loaded.exception() is not None:
            return DEFAULT_CONTEXT_LENGTH
        config = self._loaded.result().model.config
        return int(getattr(config, "max_position_embeddings", DEFAULT_CONTEXT_LENGTH))

    def count_tokens(self, text: str) -> int:
        """Blocks until the model is loaded (the tokenizer comes with it)."""
        return count_tokens(self._loaded_model_blocking().tokenizer, text)

    async def ready(self) -> bool:
        return (
            not self._closed
            and self._worker.is_alive()
            and self._loaded.done()
            and self._loaded.exception() is None
        )

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        """Wait for the model to load; raise its load error (EngineUnavailableError) if it failed."""
        await self._loaded_model(timeout)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        validate_request(request)
        loaded = await self._loaded_model(self._settings.load_timeout_s)
        prompt_ids = self._encode(loaded.tokenizer, request)
        if len(prompt_ids) + request.max_tokens > self.context_length:
            raise ContextLengthExceeded(
                f"the prompt ({len(prompt_ids)} tokens) plus max_tokens ({request.max_tokens}) exceeds the "
                f"model's context length of {self.context_length} tokens",
                param="max_tokens",
            )
        if self._closed:
            raise EngineUnavailableError("the engine is shutting down")
        channel = ChunkChannel()
        sequence = Sequence(
            request,
            prompt_ids,
            tokenizer=loaded.tokenizer,
            eos_ids=_eos_ids(loaded),
            prefill_chunk=self._settings.prefill_chunk,
            sink=channel.put,
        )
        with self._live_lock:
            self._live.add(sequence)
        sequence.done.add_done_callback(lambda _: self._forget(sequence))
        self._inbox.put(sequence)
        try:
            async for chunk in channel.chunks():
                yield chunk
        finally:
            # Closing the iterator or cancelling its consumer lands here: the worker drops the sequence
            # before its next forward pass.
            sequence.cancel()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inbox.put(_SHUTDOWN)
        await asyncio.to_thread(self._worker.join)

    def suspend(self, reason: str) -> None:
        """Fail the requests in flight, drop the model from memory and refuse new ones with `reason` until
        `resume`."""
        self._inbox.put(_Unload(reason))

    def resume(self) -> None:
        """Load the model again after a suspend (or retry a load that failed, e.g. for want of a license)."""
        self._inbox.put(_RESUME)

    # -- observability -----------------------------------------------------------------------------------

    @property
    def active_requests(self) -> int:
        with self._live_lock:
            return len(self._live)

    async def wait_idle(self) -> None:
        """Wait until the worker has let go of every request submitted so far (finished or cancelled)."""
        with self._live_lock:
            pending = [asyncio.wrap_future(s.done) for s in self._live]
        if pending:
            await asyncio.gather(*pending)

    # -- internals ---------------------------------------------------------------------------------------

    async def _loaded_model(self, timeout: float | None) -> LoadedModel:
        return await wait_for_load(self._loaded, timeout, self.model_id)

    def _loaded_model_blocking(self) -> LoadedModel:
        return load_result(self._loaded, self._settings.load_timeout_s, self.model_id)

    def _encode(self, tokenizer: Any, request: GenerationRequest) -> list[int]:
        if request.messages is not None:
            try:
                text = tokenizer.apply_chat_template(
                    [dict(m) for m in request.messages], add_generation_prompt=True, tokenize=False
                )
            except Exception as exc:  # jinja raises its own errors for messages the template refuses
                raise EngineRequestError(
                    f"the model's chat template refused the messages: {exc}", param="messages"
                ) from exc
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])
        ids = list(tokenizer(request.prompt)["input_ids"])
        if not ids:
            raise EngineRequestError("the prompt is empty", param="prompt")
        return ids

    def _forget(self, sequence: Sequence) -> None:
        with self._live_lock:
            self._live.discard(sequence)

    def _serve(self) -> None:
        import torch

        torch.set_num_threads(self._settings.threads)
        while True:
            loaded = self._load()
            if loaded is not None:
                stopped_by = self._schedule(loaded.model)
                if stopped_by is _SHUTDOWN:
                    self._drain()
                    return
                self._unloaded(f"the model was unloaded: {stopped_by.reason}")
                del loaded
                gc.collect()
            if not self._wait_for_resume():
                self._drain()
                return

    def _load(self) -> LoadedModel | None:
        if self._loaded.done():  # a resume: requests from now on wait for this load
            self._loaded = new_load()
        try:
            loaded = load_model(self._settings, self._home, self._sealed_loader)
        except EngineError as exc:
            log.error("model load failed: %s", exc)
            self._loaded.set_exception(exc)
            return None
        except Exception as exc:  # a broken model file raises anything; report it, never hang waiters
            log.exception("model load failed")
            self._loaded.set_exception(EngineUnavailableError(f"the model failed to load: {exc}"))
            return None
        self.load_seconds, self.load_source = loaded.seconds, loaded.source
        self.loads += 1
        log.info(
            "model %s loaded from %s (%s) in %.2f s",
            self.model_id,
            loaded.directory,
            loaded.source,
            loaded.seconds,
        )
        self._loaded.set_result(loaded)
        return loaded

    def _unloaded(self, reason: str) -> None:
        """From now on requests fail with `reason` (the loaded model is no longer referenced from here)."""
        log.warning("model %s: %s", self.model_id, reason)
        self._loaded = failed_load(reason)

    def _wait_for_resume(self) -> bool:
        """Idle without a model: fail what arrives, until a resume (True) or the shutdown (False)."""
        while True:
            item = self._inbox.get()
            if item is _SHUTDOWN:
                return False
            if item is _RESUME:
                return True
            if isinstance(item, _Unload):
                self._unloaded(f"the model is not loaded: {item.reason}")
            else:
                item.fail(self._loaded.exception())

    def _schedule(self, model: Any) -> Any:
        """Alternate one prefill chunk of the oldest new request with one decode pass of the running batch, so
        a long prompt delays running requests by one chunk at most and new requests start promptly. Returns
        what stopped it: `_SHUTDOWN` or an `_Unload`."""
        prefilling: deque[Sequence] = deque()
        batch = DecodeBatch()
        while True:
            try:
                item = self._inbox.get(block=not prefilling and not batch)
                while True:
                    if item is _SHUTDOWN:
                        self._fail_all(
                            prefilling, batch, EngineUnavailableError("the engine is shutting down")
                        )
                        return item
                    if isinstance(item, _Unload):
                        self._fail_all(prefilling, batch, EngineUnavailableError(item.reason))
                        return item
                    if item is not _RESUME:  # resuming a loaded model changes nothing
                        prefilling.append(item)
                    item = self._inbox.get_nowait()
            except queue.Empty:
                pass
            if prefilling and len(batch) < self._settings.max_batch:
                self._prefill(model, prefilling, batch)
            if batch:
                try:
                    self.tokens_generated += batch.step(model)
                except Exception as exc:
                    log.exception("generation failed")
                    batch.fail(EngineUnavailableError(f"generation failed: {exc}"))

    def _prefill(self, model: Any, prefilling: deque[Sequence], batch: DecodeBatch) -> None:
        sequence = prefilling[0]
        if sequence.cancelled.is_set():
            prefilling.popleft()
            sequence.release()
            return
        try:
            logits = sequence.prefill_step(model)
            if logits is None:
                return
            prefilling.popleft()
            self.tokens_generated += sequence.accept(logits)
        except Exception as exc:
            log.exception("generation failed")
            prefilling.popleft()
            sequence.fail(EngineUnavailableError(f"generation failed: {exc}"))
            return
        if not sequence.finished:
            batch.add(sequence, sequence.take_cache())

    def _fail_all(self, prefilling: deque[Sequence], batch: DecodeBatch, error: EngineError) -> None:
        for sequence in prefilling:
            sequence.fail(error)
        batch.fail(error)

    def _drain(self) -> None:
        """At shutdown: fail what was queued after the shutdown marker, so no caller waits forever."""
        error = EngineUnavailableError("the engine is shutting down")
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Sequence):
                item.fail(error)


def _eos_ids(loaded: LoadedModel) -> frozenset[int]:
    ids: set[int] = set()
    for source in (loaded.model.generation_config.eos_token_id, loaded.tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source:
            ids.update(source)
    return frozenset(ids)


__all__ = ["TransformersEngine"]
