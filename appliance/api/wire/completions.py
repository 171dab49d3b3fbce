"""`POST /v1/completions`: OpenAI's legacy completions, with `suffix` for fill-in-the-middle."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from appliance.api.wire.common import (
    CodemoatInfo,
    FinishReason,
    SamplingFields,
    Snippet,
    Usage,
    WireResponse,
    absent,
)


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
    mode: Literal["single", "multi"] | None = Field(
        None,
        description="single: complete the line; multi: complete the block. Default: guessed from the cursor.",
    )

    @field_validator("prompt")
    @classmethod
    def _single_prompt(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and len(prompt) != 1:
            raise ValueError("only a single prompt is supported (a string, or a list of one string)")
        return prompt

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def is_code_completion(self) -> bool:
        """A completion at a cursor in a file (any CodeMoat field, or a `suffix`): the prompt is built with
        repository context in the model family's template and the output post-processed for the editor.
        Otherwise the prompt goes to the model as is, as OpenAI's API does."""
        return (
            self.suffix is not None
            or self.repo is not None
            or self.path is not None
            or self.language is not None
            or bool(self.snippets)
            or self.mode is not None
        )


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
