"""Pieces shared by the completion and chat wire models."""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def absent(value: object) -> bool:
    """Optional response parts (`usage` in stream chunks, `codemoat`) are left out, not sent as null."""
    return value is None


class WireRequest(BaseModel):
    """A request body: strict types (no "5" for 5), unknown fields kept (and logged) rather than refused,
    since OpenAI clients send fields this server does not implement (`logprobs`, `presence_penalty`, ...)."""

    model_config = ConfigDict(extra="allow", strict=True)

    def unknown_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class WireResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    include_usage: bool = False


class Snippet(BaseModel):
    """Text of a file the editor has open, offered as context."""

    model_config = ConfigDict(extra="allow", strict=True)

    path: str = Field(min_length=1, max_length=1024)
    text: str


class SamplingFields(WireRequest):
    """The sampling fields both endpoints share, in OpenAI's order after `model` and the input."""

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = Field(None, max_length=256)

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int) -> int:
        if n != 1:
            raise ValueError("only n=1 is supported")
        return n

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(s for s in stops if s)


class Usage(WireResponse):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Citation(WireResponse):
    """A source the answer drew on. Lines are 1-based and inclusive. In chat, `index` is the number the answer
    cites it by (`[1]`); in completions, `source` says how it was found (symbol, editor, retrieval)."""

    repo: str
    path: str
    start_line: int
    end_line: int
    index: int | None = Field(None, exclude_if=absent)
    preview: str | None = Field(None, exclude_if=absent)
    source: str | None = Field(None, exclude_if=absent)


class CodemoatInfo(WireResponse):
    """CodeMoat's own part of a response, under the `codemoat` key (OpenAI clients keep unknown keys)."""

    citations: list[Citation] = Field(default_factory=list)
    context_tokens: int | None = None


FinishReason = Literal["stop", "length"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())
