"""`POST /v1/chat/completions`: messages in, an answer out (or streamed as `chat.completion.chunk` events)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.api.wire.common import CodemoatInfo, FinishReason, SamplingFields, Usage, WireResponse, absent

Role = Literal["system", "developer", "user", "assistant", "tool"]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Role
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatOptions(BaseModel):
    """CodeMoat's own request options, under `codemoat` (an unknown key is refused: it would be ignored)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Repository context: true always, false never, absent when the message is not small talk ("hi").
    context: bool | None = None


class ChatCompletionRequest(SamplingFields):
    model: str | None = Field(None, max_length=256, description="Default: the served model.")
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1, description="OpenAI's newer name for max_tokens.")
    # CodeMoat: limit retrieval to these repositories (each must be in the caller's scope).
    repo: str | list[str] | None = None
    codemoat: ChatOptions | None = None

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def repos(self) -> list[str] | None:
        if self.repo is None:
            return None
        return [self.repo] if isinstance(self.repo, str) else list(self.repo)


class AssistantMessage(WireResponse):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChatChoice(WireResponse):
    index: int = 0
    message: AssistantMessage
    logprobs: None = None
    finish_reason: FinishReason | None


class ChatCompletionResponse(WireResponse):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = Field(None, exclude_if=absent)
    codemoat: CodemoatInfo | None = Field(None, exclude_if=absent)


class Delta(WireResponse):
    role: Literal["assistant"] | None = Field(None, exclude_if=absent)
    content: str | None = Field(None, exclude_if=absent)


class ChunkChoice(WireResponse):
    index: int = 0
    delta: Delta
    logprobs: None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(WireResponse):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = Field(None, exclude_if=absent)
    codemoat: CodemoatInfo | None = Field(None, exclude_if=absent)
