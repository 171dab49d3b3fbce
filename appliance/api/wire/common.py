"""Pieces shared by the completion and chat wire models."""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def absent(value: object) -> bool:
    """Optional response parts (`usage` in stream chunks, `codemoat`) are left out, not sent as null."""
    return value is None


def _asks(value: object, *, default: object = None) -> bool:
    """Whether an OpenAI field asks for something: set, and not its do-nothing value."""
    return value is not None and value != default and value not in ((), [], {}, False)


# OpenAI fields this gateway cannot honour, and when a value asks for them: refused with a 400 naming the field
# (an agent that asked for tool calls must not get free text it takes for an answer). Their do-nothing values
# (clients send `presence_penalty: 0`, `logprobs: null`, `tool_choice: "none"`) pass.
_CANNOT_HONOUR: dict[str, tuple[str, object]] = {
    "tools": ("tool calls are not supported by this gateway's engines", None),
    "tool_choice": ("tool calls are not supported by this gateway's engines", "none"),
    "parallel_tool_calls": ("tool calls are not supported by this gateway's engines", None),
    "functions": ("function calls are not supported by this gateway's engines", None),
    "function_call": ("function calls are not supported by this gateway's engines", "none"),
    "logprobs": ("log probabilities are not returned by this gateway", None),
    "top_logprobs": ("log probabilities are not returned by this gateway", 0),
    "logit_bias": ("logit bias is not supported", None),
    "presence_penalty": ("presence penalty is not supported (use 0)", 0),
    "frequency_penalty": ("frequency penalty is not supported (use 0)", 0),
    "best_of": ("only best_of=1 is supported", 1),
    "echo": ("echo is not supported", None),
    "audio": ("audio output is not supported", None),
    "prediction": ("predicted outputs are not supported", None),
}


class WireRequest(BaseModel):
    """A request body: strict types (no "5" for 5). Unknown fields are kept rather than refused, since clients
    send fields of newer API versions; the ones we know and cannot honour are refused by `refuse_unhonoured`."""

    model_config = ConfigDict(extra="allow", strict=True)

    def unknown_fields(self) -> list[str]:
        return sorted(self.model_extra or {})

    def refuse_unhonoured(self) -> None:
        """Raise InvalidRequestError naming the first field whose value asks for what cannot be done."""
        from appliance.api.errors import InvalidRequestError

        extra = self.model_extra or {}
        for name, (reason, default) in _CANNOT_HONOUR.items():
            if name in extra and _asks(extra[name], default=default):
                raise InvalidRequestError(f"{name}: {reason}", param=name, code="unsupported_parameter")
        response_format = extra.get("response_format")
        if response_format is not None and not (
            isinstance(response_format, dict) and response_format.get("type") == "text"
        ):
            raise InvalidRequestError(
                "response_format: only plain text answers are supported (no JSON mode or schema)",
                param="response_format",
                code="unsupported_parameter",
            )
        modalities = extra.get("modalities")
        if modalities is not None and modalities != ["text"]:
            raise InvalidRequestError(
                "modalities: only text is supported", param="modalities", code="unsupported_parameter"
            )


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
    # Chat: why the answer had no repository sources (not looked up, or none matched); absent when it had some.
    context_note: str | None = Field(None, exclude_if=absent)


FinishReason = Literal["stop", "length"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())
