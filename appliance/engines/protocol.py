"""The engine seam: something that turns a prompt (or chat messages) into streamed tokens.

Implementations: the transformers CPU engine (embedded default), an OpenAI-compatible upstream client (vLLM,
llama.cpp's server, another CodeMoat), a router over several upstreams, and decorators that wrap any engine
with the same protocol (bounded queue, metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Exactly one of `prompt` (raw text, already templated) or `messages` (chat; the engine applies the model's
    chat template) is set."""

    prompt: str | None = None
    messages: tuple[dict[str, Any], ...] | None = None
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Requests sharing a key (same repository and file) go to the same upstream so its prefix cache hits.
    affinity_key: str | None = None
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class GenerationChunk:
    """A piece of streamed output. The last chunk carries `finish_reason` and the token counts."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    model_id: str
    family: str  # prompt-family key in appliance.prompts (e.g. "smollm2", "qwen2.5-coder")
    context_length: int

    def count_tokens(self, text: str) -> int: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Yield output as it is produced. Closing the iterator (or cancelling the task consuming it) stops
        generation within one token."""
        ...

    async def ready(self) -> bool: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Suspendable(Protocol):
    """An engine that can drop its model (and any key it holds) and load it again later: the license
    heartbeat suspends it on STOPPED and resumes it after a renewal. Both are thread-safe and return at once."""

    def suspend(self, reason: str) -> None: ...

    def resume(self) -> None: ...
