"""The engine seam: something that turns a prompt (or chat messages) into streamed tokens.

Implementations: the transformers CPU engine (embedded default), an OpenAI-compatible upstream client (vLLM,
llama.cpp's server, another CodeMoat), a router over several upstreams, and decorators that wrap any engine
with the same protocol (bounded queue, metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Literal, Protocol, runtime_checkable

from appliance.engines.errors import EngineRequestError

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
    """Every engine validates each request with `validate_request` before work starts. The optional
    capabilities below (`Suspendable`, `QueueBound`) are separate protocols, checked with `isinstance`."""

    model_id: str
    family: str  # prompt-family key in appliance.prompts (e.g. "smollm2", "qwen2.5-coder")
    context_length: int

    def count_tokens(self, text: str) -> int: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Yield output as it is produced. Closing the iterator (or cancelling the task consuming it) stops
        generation within one token."""
        ...

    async def ready(self) -> bool: ...

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        """Wait for a model that is still loading; raise EngineUnavailableError if it failed or `timeout`
        passed. Engines that load nothing (remote servers) return at once: `stream` fails with its reason."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Suspendable(Protocol):
    """An engine that can drop its model (and any key it holds) and load it again later: the license
    heartbeat suspends it on STOPPED and resumes it after a renewal. Both are thread-safe and return at once."""

    def suspend(self, reason: str) -> None: ...

    def resume(self) -> None: ...


@runtime_checkable
class QueueBound(Protocol):
    """An engine with a bounded queue in front of it (`BoundedEngine`): how many requests wait for a slot."""

    queued: int


def validate_request(request: GenerationRequest) -> None:
    """Checks every engine applies before work starts; the API validates too, this guards other callers."""
    if (request.prompt is None) == (request.messages is None):
        raise EngineRequestError("exactly one of prompt or messages must be given", param="prompt")
    if request.messages is not None:
        if not request.messages:
            raise EngineRequestError("messages must not be empty", param="messages")
        for i, message in enumerate(request.messages):
            if not isinstance(message.get("role"), str) or not isinstance(message.get("content"), str):
                raise EngineRequestError(
                    f"messages[{i}] needs a string role and a string content", param="messages"
                )
    if request.max_tokens < 1:
        raise EngineRequestError("max_tokens must be at least 1", param="max_tokens")
    if request.temperature < 0:
        raise EngineRequestError("temperature must not be negative", param="temperature")
    if not 0 < request.top_p <= 1:
        raise EngineRequestError("top_p must be in (0, 1]", param="top_p")
