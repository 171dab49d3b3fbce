"""The CPU engine for GGUF models: llama.cpp in this process (the `llama-cpp-python` binding, built from its
source distribution by the project's install, see Makefile).

Why llama.cpp and not transformers on this CPU (AVX2, no AVX-512, 2 cores): it runs the Q4_K_M weights as they
are (1.1 GB read per decoded token instead of 6 GB of de-quantized fp32), with hand-written AVX2 kernels;
bench/RESULTS.md ("Code model engines") has the side-by-side numbers.

The engine keeps a few llama.cpp contexts on one set of weights (each context mmaps the same GGUF file, so the
weights are in memory once; each has its own KV cache). A request runs on the free context whose cached tokens
share the longest prefix with its prompt, and only the tokens after that prefix are computed: while a
developer types, the repository context and the file above the cursor stay cached and each keystroke computes
the current line and the short suffix again (appliance.prompts lays prompts out for this). The prompt goes in
by chunks, so a cancelled request stops within one chunk of prefill or one token of decoding.

Sealed (encrypted) models are safetensors directories: they load in the transformers engine, which decrypts
them in memory; this engine reads GGUF files only."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.engines.channel import ChunkChannel
from appliance.engines.config import EngineSettings
from appliance.engines.errors import (
    ContextLengthExceeded,
    EngineError,
    EngineRequestError,
    EngineUnavailableError,
    ModelFilesError,
)
from appliance.engines.loading import failed_load, load_result, new_load, wait_for_load
from appliance.engines.model_files import gguf_file
from appliance.engines.protocol import FinishReason, GenerationChunk, GenerationRequest, validate_request
from appliance.engines.stops import StopMatcher

log = logging.getLogger(__name__)

_STOPPED = object()
# A request waits up to this long for the busy context that holds its prompt's start, when that saves more
# than this many tokens of prompt (a second or more on 2 cores).
_WAIT_FOR_CACHE_S = 1.5
_WORTH_WAITING_TOKENS = 64


@dataclass(slots=True)
class _Context:
    llama: Any  # llama_cpp.Llama
    busy: bool = False
    name: str = ""


@dataclass(frozen=True, slots=True)
class LlamaModel:
    path: Path
    contexts: tuple[_Context, ...]
    context_length: int  # tokens one context holds (prompt and answer)
    trained_context: int
    chat_formatter: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter, or None
    seconds: float


class LlamaCppEngine:
    """Engine over a GGUF file (`engine.model_path`, or the bundled model `engine.model`). `suspend` drops the
    model from memory, `resume` loads it again (the license heartbeat drives both)."""

    def __init__(self, settings: EngineSettings, home: Path) -> None:
        self.model_id = settings.served_model_id()
        self.family = settings.served_family()
        self.tokens_generated = 0
        self.prompt_tokens_computed = 0  # prompt tokens evaluated (not taken from a context's cache)
        self.prompt_tokens_reused = 0
        self.load_seconds: float | None = None
        self.loads = 0
        self._settings = settings
        self._home = home
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._loaded: Future[LlamaModel] = new_load()
        self._suspended: str | None = None
        self._generation = 0  # bumped by suspend: running requests of an older generation stop
        self._closed = False
        self._pool = ThreadPoolExecutor(
            max_workers=settings.contexts, thread_name_prefix=f"llama-{self.model_id}"
        )
        self._loader = threading.Thread(target=self._load, name=f"load-{self.model_id}", daemon=True)
        self._loader.start()

    # -- Engine protocol ---------------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        if self._loaded.done() and self._loaded.exception() is None:
            return self._loaded.result().context_length
        return self._settings.llama_context_tokens()

    def count_tokens(self, text: str) -> int:
        """Blocks until the model is loaded (the vocabulary comes with it)."""
        model = self._loaded_blocking()
        return len(model.contexts[0].llama.tokenize(text.encode(), add_bos=False, special=True))

    async def ready(self) -> bool:
        return not self._closed and self._loaded.done() and self._loaded.exception() is None

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        await self._wait_loaded(timeout)

    async def stream(self, request: GenerationRequest) -> Any:
        validate_request(request)
        model = await self._wait_loaded(self._settings.load_timeout_s)
        prompt_ids = await asyncio.to_thread(self._encode, model, request)
        if len(prompt_ids) + request.max_tokens > model.context_length:
            raise ContextLengthExceeded(
                f"the prompt ({len(prompt_ids)} tokens) plus max_tokens ({request.max_tokens}) exceeds the "
                f"model's context length of {model.context_length} tokens",
                param="max_tokens",
            )
        channel = ChunkChannel()
        cancelled = threading.Event()

        def sink(item: GenerationChunk | BaseException) -> None:
            if not channel.put(item):  # the consumer's loop is gone
                cancelled.set()

        if self._closed:
            raise EngineUnavailableError("the engine is shutting down")
        job = self._pool.submit(self._run, model, request, prompt_ids, cancelled, sink)
        try:
            async for chunk in channel.chunks():
                yield chunk
        finally:
            cancelled.set()  # closing the iterator or cancelling its consumer lands here
            del job

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._generation += 1
        await asyncio.to_thread(self._pool.shutdown, wait=True)
        await asyncio.to_thread(self._loader.join)
        self._release_model()

    # -- Suspendable ---------------------------------------------------------------------------------------

    def suspend(self, reason: str) -> None:
        """Fail the requests in flight, drop the model from memory, refuse new requests with `reason`."""
        with self._lock:
            self._suspended = reason
            self._generation += 1
        threading.Thread(target=self._unload_when_idle, args=(reason,), daemon=True).start()

    def resume(self) -> None:
        with self._lock:
            if self._suspended is None and self._loaded.done() and self._loaded.exception() is None:
                return
            if not self._loader.is_alive():
                self._suspended = None
                self._loaded = new_load()
                self._loader = threading.Thread(target=self._load, name=f"load-{self.model_id}", daemon=True)
                self._loader.start()

    # -- loading -------------------------------------------------------------------------------------------

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            path = gguf_file(self._settings, self._home)
            model = self._open(path, started)
        except EngineError as exc:
            log.error("model load failed: %s", exc)
            self._loaded.set_exception(exc)
            return
        except Exception as exc:  # a broken file raises anything: report it, never hang waiters
            log.exception("model load failed")
            self._loaded.set_exception(EngineUnavailableError(f"the model failed to load: {exc}"))
            return
        with self._lock:
            if self._suspended is not None or self._closed:
                reason = self._suspended or "the engine is shutting down"
                self._close_contexts(model)
                self._loaded.set_exception(EngineUnavailableError(f"the model is not loaded: {reason}"))
                return
            self.load_seconds = model.seconds
            self.loads += 1
            self._loaded.set_result(model)
        log.info(
            "model %s loaded from %s in %.2f s (%d contexts of %d tokens)",
            self.model_id,
            path,
            model.seconds,
            len(model.contexts),
            model.context_length,
        )

    def _open(self, path: Path, started: float) -> LlamaModel:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise ModelFilesError(
                "the llama.cpp engine is not installed (llama-cpp-python; `make install` builds it)"
            ) from exc
        settings = self._settings
        n_ctx = settings.llama_context_tokens()
        contexts = []
        for i in range(settings.contexts):
            try:
                llama = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_batch=settings.prefill_chunk,
                    n_ubatch=settings.prefill_chunk,
                    n_threads=settings.threads,
                    n_threads_batch=settings.threads,
                    use_mmap=True,  # every context maps the same file: the weights are in memory once
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelFilesError(f"llama.cpp cannot load {path}: {exc}") from None
            contexts.append(_Context(llama, name=f"ctx{i}"))
        first = contexts[0].llama
        architecture = first.metadata.get("general.architecture", "")
        trained = int(first.metadata.get(f"{architecture}.context_length", n_ctx))
        formatter = None
        template = first.metadata.get("tokenizer.chat_template")
        if template:
            eos, bos = first.token_eos(), first.token_bos()
            formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=first.detokenize([eos], special=True).decode() if eos >= 0 else "",
                bos_token=first.detokenize([bos], special=True).decode() if bos >= 0 else "",
            )
        return LlamaModel(
            path, tuple(contexts), min(n_ctx, trained), trained, formatter, time.perf_counter() - started
        )

    def _unload_when_idle(self, reason: str) -> None:
        with self._lock:
            while any(c.busy for c in self._current_contexts()):
                self._free.wait(timeout=1.0)
            if self._suspended != reason:
                return  # resumed meanwhile
            self._release_model_locked()
            self._loaded = failed_load(f"the model is not loaded: {reason}")
        log.warning("model %s unloaded: %s", self.model_id, reason)

    def _current_contexts(self) -> tuple[_Context, ...]:
        if self._loaded.done() and self._loaded.exception() is None:
            return self._loaded.result().contexts
        return ()

    def _release_model(self) -> None:
        with self._lock:
            self._release_model_locked()

    def _release_model_locked(self) -> None:
        if self._loaded.done() and self._loaded.exception() is None:
            self._close_contexts(self._loaded.result())

    @staticmethod
    def _close_contexts(model: LlamaModel) -> None:
        for context in model.contexts:
            context.llama.close()

    async def _wait_loaded(self, timeout: float | None) -> LlamaModel:
        return await wait_for_load(self._loaded, timeout, self.model_id)

    def _loaded_blocking(self) -> LlamaModel:
        return load_result(self._loaded, self._settings.load_timeout_s, self.model_id)

    # -- generation ----------------------------------------------------------------------------------------

    def _encode(self, model: LlamaModel, request: GenerationRequest) -> list[int]:
        llama = model.contexts[0].llama
        if request.messages is not None:
            if model.chat_formatter is None:
                raise EngineRequestError(f"the model {self.model_id} has no chat template", param="messages")
            try:
                text = model.chat_formatter(messages=[dict(m) for m in request.messages]).prompt
            except Exception as exc:  # jinja raises its own errors for messages the template refuses
                raise EngineRequestError(
                    f"the model's chat template refused the messages: {exc}", param="messages"
                ) from exc
        else:
            text = request.prompt or ""
        # `special`: the template's control tokens (<|fim_prefix|>, <|im_start|>, ...) are tokens, not text.
        ids = list(llama.tokenize(text.encode(), add_bos=True, special=True))
        if not ids:
            raise EngineRequestError("the prompt is empty", param="prompt")
        return ids

    def _claim(self, model: LlamaModel, prompt_ids: list[int]) -> _Context:
        """The free context whose cache shares the longest prefix with the prompt (ties: the first). When a
        busy context holds a much longer prefix (the previous keystroke's request, still stopping after the
        editor got its answer), wait a moment for it rather than compute the whole prompt again elsewhere."""
        deadline = time.monotonic() + _WAIT_FOR_CACHE_S
        with self._lock:
            while True:
                scored = [(_common_prefix(c.llama, prompt_ids), i, c) for i, c in enumerate(model.contexts)]
                free = [entry for entry in scored if not entry[2].busy]
                if free:
                    best_free = max(free, key=lambda e: (e[0], -e[1]))
                    best = max(scored, key=lambda e: (e[0], -e[1]))
                    left = deadline - time.monotonic()
                    if best[2].busy and best[0] > best_free[0] + _WORTH_WAITING_TOKENS and left > 0:
                        self._free.wait(timeout=left)
                        continue
                    context = best_free[2]
                    context.busy = True
                    return context
                self._free.wait()

    def _release(self, context: _Context) -> None:
        with self._lock:
            context.busy = False
            self._free.notify_all()

    def _run(
        self,
        model: LlamaModel,
        request: GenerationRequest,
        prompt_ids: list[int],
        cancelled: threading.Event,
        sink: Any,
    ) -> None:
        with self._lock:
            generation = self._generation
            suspended = self._suspended

        def stopped() -> bool:
            return cancelled.is_set() or self._generation != generation

        if suspended is not None:
            sink(EngineUnavailableError(f"the model is not loaded: {suspended}"))
            return
        if cancelled.is_set():
            return
        context = self._claim(model, prompt_ids)
        try:
            outcome = self._generate(context.llama, request, prompt_ids, stopped, sink)
            if outcome is _STOPPED and self._generation != generation and not cancelled.is_set():
                sink(EngineUnavailableError(f"the model was unloaded: {self._suspended or 'shutting down'}"))
        except Exception as exc:
            log.exception("generation failed")
            context.llama.reset()  # the cache may hold a half-evaluated batch: start clean next time
            sink(EngineUnavailableError(f"generation failed: {exc}"))
        finally:
            self._release(context)

    def _generate(
        self, llama: Any, request: GenerationRequest, prompt_ids: list[int], stopped: Any, sink: Any
    ) -> object | None:
        keep = _common_prefix(llama, prompt_ids)
        if keep == len(prompt_ids):
            keep -= 1  # the last prompt token is computed again: its logits choose the first new token
        llama.n_tokens = keep  # `eval` drops the cache past n_tokens before it appends
        self.prompt_tokens_reused += keep
        chunk = self._settings.prefill_chunk
        for start in range(keep, len(prompt_ids), chunk):
            if stopped():
                return _STOPPED
            piece = prompt_ids[start : start + chunk]
            llama.eval(piece)
            self.prompt_tokens_computed += len(piece)
        if request.seed is not None:
            llama.set_seed(request.seed)
        # The whole prompt is in the cache now, so `generate` samples at once without evaluating it again.
        tokens = llama.generate(
            prompt_ids,
            temp=request.temperature,
            top_p=request.top_p,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
        )
        try:
            return self._decode(llama, tokens, request, prompt_ids, stopped, sink)
        finally:
            tokens.close()

    def _decode(
        self,
        llama: Any,
        tokens: Any,
        request: GenerationRequest,
        prompt_ids: list[int],
        stopped: Any,
        sink: Any,
    ) -> object | None:
        import llama_cpp

        matcher = StopMatcher(request.stop)
        vocab = llama._model.vocab  # noqa: SLF001 (llama-cpp-python 0.3 exposes end-of-generation only here)
        generated: list[int] = []
        emitted = 0
        finish: FinishReason = "length"
        text = ""
        for token in tokens:
            if stopped():
                return _STOPPED
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            generated.append(token)
            self.tokens_generated += 1
            text = llama.detokenize(generated, prev_tokens=prompt_ids).decode("utf-8", errors="replace")
            scan = matcher.scan(text, emitted)
            if scan.stopped:
                sink(self._last(text[emitted : scan.end], "stop", prompt_ids, generated))
                return None
            if scan.end > emitted:
                sink(GenerationChunk(text[emitted : scan.end]))
                emitted = scan.end
            if len(generated) >= request.max_tokens:
                break
        scan = matcher.scan(text, emitted, final=True)
        sink(self._last(text[emitted : scan.end], "stop" if scan.stopped else finish, prompt_ids, generated))
        return None

    @staticmethod
    def _last(
        text: str, reason: FinishReason, prompt_ids: list[int], generated: list[int]
    ) -> GenerationChunk:
        return GenerationChunk(
            text, finish_reason=reason, prompt_tokens=len(prompt_ids), completion_tokens=len(generated)
        )


def _common_prefix(llama: Any, ids: list[int]) -> int:
    """Tokens at the start of `ids` that the context holds already."""
    import numpy as np

    n = min(int(llama.n_tokens), len(ids))
    if n == 0:
        return 0
    differ = np.flatnonzero(llama.input_ids[:n] != np.asarray(ids[:n], dtype=llama.input_ids.dtype))
    return int(differ[0]) if differ.size else n


__all__ = ["LlamaCppEngine", "LlamaModel"]
