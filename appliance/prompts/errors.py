"""Errors of prompt building, each with a message the API can show to the caller as is.

ApplianceError                      (appliance.errors)
└── PromptError                     the request cannot be turned into a prompt
    ├── UnknownModelFamily          a family name that is not registered
    └── PromptTooLong               the parts that must be kept do not fit the model's context
"""

from __future__ import annotations

from appliance.errors import ApplianceError


class PromptError(ApplianceError):
    status = 400
    code = "invalid_prompt"
    default_param = "prompt"  # the request field named when the raiser names none

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message, param=param or self.default_param)


class UnknownModelFamily(PromptError):
    default_param = "model"


class PromptTooLong(PromptError):
    code = "context_length_exceeded"  # OpenAI's code: clients (LiteLLM, Aider) recognise it and trim
    default_param = "max_tokens"


__all__ = ["PromptError", "PromptTooLong", "UnknownModelFamily"]
