"""Errors the engines raise, each with a one-line message safe to show to the caller.

    EngineError                      (ApplianceError) base; `status`, `code` for the OpenAI error shape
    ├── EngineRequestError           400: the request cannot be served as asked (a bad field)
    │   └── ContextLengthExceeded     400: the prompt and the answer do not fit in the model's context
    ├── QueueFullError               429: too many requests waiting; `retry_after` seconds (Retry-After)
    ├── EngineUnavailableError       503: the model is not loaded, failed to load, or no upstream is healthy
    ├── UpstreamError                502: an upstream server failed mid-request or answered nonsense
    └── ModelFilesError              the model files cannot be found, converted or cached (exit code 6)

The API turns any of these into `{"error": {"message", "type", "code"}}` with `status`; the CLI prints
`str(err)` and exits with `exit_code`."""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = [
    "EngineError",
    "ContextLengthExceeded",
    "EngineRequestError",
    "QueueFullError",
    "EngineUnavailableError",
    "UpstreamError",
    "ModelFilesError",
]


class EngineError(ApplianceError):
    """Base class: `str(err)` is a one-line, user-facing reason."""

    status = 500
    code = "engine_error"
    exit_code = 5


class EngineRequestError(EngineError):
    status = 400
    code = "invalid_request"
    exit_code = 2


class ContextLengthExceeded(EngineRequestError):
    code = "context_length_exceeded"  # OpenAI's code: clients (LiteLLM, Aider) recognise it and trim


class QueueFullError(EngineError):
    status = 429
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EngineUnavailableError(EngineError):
    status = 503
    code = "engine_unavailable"


class UpstreamError(EngineError):
    status = 502
    code = "upstream_error"

    def __init__(self, message: str, *, upstream: str | None = None, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.upstream = upstream
        self.connection_lost = connection_lost  # the server went away (not merely answered badly)


class ModelFilesError(EngineUnavailableError):
    code = "model_files"
    exit_code = 6
