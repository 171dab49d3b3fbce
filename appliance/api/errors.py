"""Errors raised by the gateway itself, and the one table that turns every package's errors into OpenAI's
`{"error": {"message", "type", "code", "param"}}` with an HTTP status.

    ApplianceError
    └── APIError                     raised by the gateway (status, type, code, param carried on the instance)
        ├── InvalidRequestError      400: a field is malformed (`param` names it)
        ├── ModelNotFoundError       404: the `model` is not served here
        ├── PayloadTooLargeError     413: the body is over `gateway.max_body_bytes`
        ├── NotReadyError            503: the engine, index or license does not allow serving now
        ├── LicenseRestrictedError   403: the license takes no new sessions (RESTRICTED) and this user has none
        └── InternalError            500: a bug; the message says nothing about internals

Errors of other packages map by class (`describe`): auth (401/403), engines (their `http_status`), prompts
(400), indexer queries (400), state database (503). Every class of those hierarchies is covered; a test walks
them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from appliance.auth.errors import AuthenticationError, AuthError, PermissionDeniedError
from appliance.engines.errors import EngineError, EngineRequestError, QueueFullError, UpstreamError
from appliance.errors import ApplianceError
from appliance.prompts.errors import PromptError
from appliance.state.errors import StateError
from indexer.errors import IndexerError, QueryError

__all__ = [
    "APIError",
    "ErrorShape",
    "InternalError",
    "InvalidRequestError",
    "LicenseRestrictedError",
    "ModelNotFoundError",
    "NotReadyError",
    "PayloadTooLargeError",
    "describe",
]


class APIError(ApplianceError):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequestError(APIError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class ModelNotFoundError(APIError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class PayloadTooLargeError(APIError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class NotReadyError(APIError):
    status = 503
    type = "service_unavailable"
    code = "not_ready"


class LicenseRestrictedError(APIError):
    status = 403
    type = "permission_error"
    code = "license_restricted"


class InternalError(APIError):
    status = 500
    type = "server_error"
    code = "internal_error"


@dataclass(frozen=True, slots=True)
class ErrorShape:
    status: int
    message: str
    type: str
    code: str | None
    param: str | None = None
    retry_after: int | None = None

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


_ENGINE_TYPES = {400: "invalid_request_error", 429: "rate_limit_error", 502: "upstream_error"}


def describe(exc: BaseException) -> ErrorShape | None:
    """The HTTP answer for a known error, or None for anything else (a bug: answered as a bare 500)."""
    if isinstance(exc, APIError):
        return ErrorShape(exc.status, str(exc), exc.type, exc.code, exc.param)
    if isinstance(exc, AuthError):
        if isinstance(exc, AuthenticationError):
            return ErrorShape(401, str(exc), "authentication_error", "invalid_api_key", exc.param)
        if isinstance(exc, PermissionDeniedError):
            return ErrorShape(403, str(exc), "permission_error", "permission_denied", exc.param)
        # Token administration errors (not found, conflict) only reach HTTP through admin APIs.
        return ErrorShape(400, str(exc), "invalid_request_error", "invalid_request", exc.param)
    if isinstance(exc, EngineError):
        status = exc.http_status
        kind = _ENGINE_TYPES.get(status, "service_unavailable" if status == 503 else "server_error")
        param = exc.param if isinstance(exc, EngineRequestError) else None
        retry = math.ceil(exc.retry_after) if isinstance(exc, QueueFullError) else None
        if isinstance(exc, UpstreamError):
            retry = None
        return ErrorShape(status, str(exc), kind, exc.code, param, retry)
    if isinstance(exc, PromptError):
        return ErrorShape(400, str(exc), "invalid_request_error", "invalid_prompt", exc.field)
    if isinstance(exc, QueryError):
        return ErrorShape(400, str(exc), "invalid_request_error", "invalid_query", None)
    if isinstance(exc, IndexerError):
        return ErrorShape(
            503, f"the code index is unavailable: {exc}", "service_unavailable", "index_unavailable"
        )
    if isinstance(exc, StateError):
        return ErrorShape(
            503, "the state database is unavailable", "service_unavailable", "state_unavailable"
        )
    return None
