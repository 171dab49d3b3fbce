"""Errors of the appliance, each carrying a message safe and useful to show to the user.

Every error says how it is answered, in one place, on the class: `status` (HTTP), `code` (the OpenAI error's
`code`), `exit_code` (the CLI's), and `param` (the request field at fault) on the instance. The API turns any
of them into `{"error": {...}}` (`appliance.api.errors.describe`), the CLI into one line and `exit_code`.

    ApplianceError                  500
    ├── ConfigError                 the configuration file or environment is invalid (exit 2)
    ├── InvalidInputError           400: a field is malformed (`param` names it)
    ├── NotFoundError               404: no such thing (user, group, conversation, file)
    ├── ConflictError               409: it exists already, or the change would break an invariant
    └── (each package adds its family: auth, engines, prompts, jobs, state, gateway)
"""

from __future__ import annotations

__all__ = ["ApplianceError", "ConfigError", "ConflictError", "InvalidInputError", "NotFoundError"]


class ApplianceError(Exception):
    status: int = 500
    code: str = "internal_error"
    type: str | None = None  # OpenAI's error type; None: the one its status implies
    exit_code: int = 1
    retry_after: float | None = None  # seconds, for 429s (Retry-After)
    # Shown by the API instead of the message, for errors whose message names internals (paths, SQL).
    public_message: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ConfigError(ApplianceError):
    exit_code = 2


class InvalidInputError(ApplianceError):
    status = 400
    code = "invalid_value"
    exit_code = 2


class NotFoundError(ApplianceError):
    status = 404
    code = "not_found"
    exit_code = 2


class ConflictError(ApplianceError):
    status = 409
    code = "conflict"
    exit_code = 2
