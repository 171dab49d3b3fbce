"""`POST /v1/completions`: OpenAI's legacy completions, with `suffix` for fill-in-the-middle."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from appliance.api.wire.common import CodemoatInfo, absent, FinishReason, SamplingFields, Snippet, Usage, WireResponse


class CompletionRequest(SamplingFields):
    # OpenAI's fields, in OpenAI's order (the sampling ones come from SamplingFields).
    model: str | None = Field(None, max_length=256, description="Default: the served model.")
    prompt: str | list[str]
    suffix: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    # CodeMoat's fields, all optional: where the cursor is, and what the editor has open.
    repo: str | None = Field(None, min_length=1, max_length=256)
    path: str | None = Field(None, min_length=1, max_length=1024)
    language: str | None = Field(None, min_length=1, max_length=64)
    snippets: list[Snippet] = Field(default_factory=list)
    mode: Literal["line", "block"] | None = Field(
        None, description="line: stop at the end of the line; block: at the end of the block. Default: guessed."
    )

    @field_validator("prompt")
    @classmethod
    def _single_prompt(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and len(prompt) != 1:
            raise ValueError("only a single prompt is supported (a string, or a list of one string)")
        return prompt

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class CompletionChoice(WireResponse):
    text: str
    index: int = 0
    logprobs: None = None
    finish_reason: FinishReason | None


class CompletionResponse(WireResponse):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = Field(None, exclude_if=absent)
    codemoat: CodemoatInfo | None = Field(None, exclude_if=absent)
