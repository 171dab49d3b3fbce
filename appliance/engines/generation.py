"""One request's generation, driven by the engine's worker thread one model forward pass at a time.

The prompt goes in by chunks on the request's own KV cache (prefill); then the cache joins the decode batch
(batching.DecodeBatch), which produces one token for every running request per forward pass. The cancel flag
is checked before every pass, and a token produced while it was set is dropped: a cancelled request stops
within one token."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from appliance.engines.protocol import FinishReason, GenerationChunk, GenerationRequest
from appliance.engines.stops import StopMatcher

Sink = Callable[[GenerationChunk | BaseException], bool]  # False: nobody listens any more


def sample_token(logits: Any, temperature: float, top_p: float, generator: Any) -> int:
    """Greedy when temperature is 0; otherwise temperature and nucleus (top-p) sampling."""
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs > top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))


class Sequence:
    def __init__(
        self,
        request: GenerationRequest,
        prompt_ids: list[int],
        *,
        tokenizer: Any,
        eos_ids: frozenset[int],
        prefill_chunk: int,
        sink: Sink,
    ) -> None:
        import torch

        self.request = request
        self.prompt_ids = prompt_ids
        self.generated: list[int] = []
        self.cancelled = threading.Event()
        self.done: Future[None] = Future()  # resolved when the worker lets go of this sequence
        self.done.set_running_or_notify_cancel()  # so a waiter that gives up cannot cancel it
        self._tokenizer = tokenizer
        self._eos_ids = eos_ids
        self._prefill_chunk = prefill_chunk
        self._sink = sink
        self._stops = StopMatcher(request.stop)
        self._prefilled = 0
        self._cache: Any = None
        self._emitted = 0  # characters of the decoded text already sent
        self._generator = None
        if request.temperature > 0:
            self._generator = torch.Generator()
            if request.seed is not None:
                self._generator.manual_seed(request.seed)
            else:
                self._generator.seed()

    @property
    def finished(self) -> bool:
        return self.done.done()

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def prefilled(self) -> bool:
        return self._prefilled >= len(self.prompt_ids)

    @property
    def last_token(self) -> int:
        return self.generated[-1]

    def prefill_step(self, model: Any) -> Any | None:
        """Feed the next chunk of the prompt; once the whole prompt is in, return its last logits."""
        chunk = self.prompt_ids[self._prefilled : self._prefilled + self._prefill_chunk]
        self._prefilled += len(chunk)
        logits = self._forward(model, chunk)
        return logits if self.prefilled else None

    def take_cache(self) -> Any:
        """Hand the KV cache over to the decode batch (see batching.DecodeBatch)."""
        cache, self._cache = self._cache, None
        return cache

    def accept(self, logits: Any) -> int:
        """Choose the next token from `logits`, emit what text it completes; return tokens produced (1)."""
        token = sample_token(logits, self.request.temperature, self.request.top_p, self._generator)
        if self.cancelled.is_set():  # cancelled during the forward pass: drop the token unseen
            self.release()
            return 1
        if token in self._eos_ids:
            self._finish("stop")
            return 1
        self.generated.append(token)
        self._advance_text()
        if not self.finished and len(self.generated) >= self.request.max_tokens:
            self._finish("length")
        return 1

    def fail(self, error: BaseException) -> None:
        if not self.finished:
            self._sink(error)
            self.release()

    def _forward(self, model: Any, ids: list[int]) -> Any:
        import torch

        with torch.inference_mode():
            out = model(
                input_ids=torch.tensor([ids], dtype=torch.long),
                past_key_values=self._cache,
                use_cache=True,
                logits_to_keep=1,
            )
        self._cache = out.past_key_values
        return out.logits[0, -1]

    def _text(self) -> str:
        return self._tokenizer.decode(
            self.generated, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def _advance_text(self) -> None:
        text = self._text()
        scan = self._stops.scan(text, self._emitted)
        if scan.stopped:
            self._finish("stop", text[self._emitted : scan.end])
            return
        if scan.end > self._emitted:
            piece, self._emitted = text[self._emitted : scan.end], scan.end
            if not self._sink(GenerationChunk(piece)):
                self.release()

    def _finish(self, reason: FinishReason, tail: str | None = None) -> None:
        if tail is None:  # release the text held back for a stop sequence that never completed
            text = self._text()
            scan = self._stops.scan(text, self._emitted, final=True)
            reason = "stop" if scan.stopped else reason
            tail = text[self._emitted : scan.end]
        self._sink(
            GenerationChunk(
                tail,
                finish_reason=reason,
                prompt_tokens=len(self.prompt_ids),
                completion_tokens=len(self.generated),
            )
        )
        self.release()

    def release(self) -> None:
        self._cache = None
        if not self.done.done():
            self.done.set_result(None)
