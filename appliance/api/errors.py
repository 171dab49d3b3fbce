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

Every `ApplianceError` carries its own answer (`status`, `code`, `param`; see `appliance.errors`); errors of the
packages below the appliance map by class here: indexer queries (400), the index (503), licensing (400). A
test walks every class of those hierarchies."""

from __future__ import annotations

import math
from dataclasses import dataclass

from appliance.errors import ApplianceError
from indexer.errors import IndexerError, QueryError
from licensing.errors import LicensingError

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
    type = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, param=param)
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


class RepositoryNotIndexedError(APIError):
    status = 404
    type = "invalid_request_error"
    code = "repository_not_found"


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


# OpenAI's error `type` by HTTP status; a class may name its own (`APIError.type`).
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
}


def describe(exc: BaseException) -> ErrorShape | None:
    """The HTTP answer for a known error, or None for anything else (a bug: answered as a bare 500).

    The appliance's own errors carry their answer (`status`, `code`, `param`); the packages below it
    (indexer, licensing) know nothing of HTTP, so their errors are translated here."""
    if isinstance(exc, ApplianceError):
        status = exc.status
        kind = exc.type or _TYPES.get(status, "server_error")
        retry = math.ceil(exc.retry_after) if exc.retry_after is not None and status == 429 else None
        return ErrorShape(status, exc.public_message or str(exc), kind, exc.code, exc.param, retry)
    if isinstance(exc, QueryError):
        return ErrorShape(400, str(exc), "invalid_request_error", "invalid_query", None)
    if isinstance(exc, IndexerError):
        return ErrorShape(
            503, f"the code index is unavailable: {exc}", "service_unavailable", "index_unavailable"
        )
    if isinstance(exc, LicensingError):
        return ErrorShape(400, str(exc), "invalid_request_error", "license_error")
    return None
