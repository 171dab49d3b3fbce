"""Errors of prompt building, each with a message the API can show to the caller as is.

    ApplianceError                      (appliance.errors)
    └── PromptError                     the request cannot be turned into a prompt
        ├── UnknownModelFamily          a family name that is not registered
        └── PromptTooLong               the parts that must be kept do not fit the model's context
"""

from __future__ import annotations

from appliance.errors import ApplianceError


class PromptError(ApplianceError):
    # The HTTP layer maps this family to 400 and names `field` in the error.
    field: str = "prompt"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class UnknownModelFamily(PromptError):
    field = "model"


class PromptTooLong(PromptError):
    field = "max_tokens"


__all__ = ["PromptError", "PromptTooLong", "UnknownModelFamily"]
