"""The console's own errors, and how every error the console meets becomes an HTTP answer.

    ApplianceError
    ├── LoginRequired                 a page needs a session: redirect to the sign-in page
    └── AuthError
        └── PermissionDeniedError
            └── CsrfError             403: a state-changing request without this session's CSRF token

The JSON answers keep the gateway's shape, `{"error": {"message", "type", "code", "param"}}`."""

from __future__ import annotations

from appliance.api.errors import ErrorShape, describe
from appliance.auth.errors import PermissionDeniedError
from appliance.errors import ApplianceError
from appliance.jobs.errors import JobError
from appliance.users.errors import AccountError, SignInError, SignInThrottledError

__all__ = ["CsrfError", "LoginRequired", "shape_of"]

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error", 429: "rate_limit_error"}


class LoginRequired(ApplianceError):
    pass


class CsrfError(PermissionDeniedError):
    pass


def _kind(status: int) -> str:
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def shape_of(exc: BaseException) -> ErrorShape | None:
    """The HTTP answer for a known error; None for anything else (a bug)."""
    if isinstance(exc, (AccountError, SignInError, SignInThrottledError, JobError)):
        status = int(getattr(exc, "status", 400))
        retry = getattr(exc, "retry_after", None)
        return ErrorShape(status, str(exc), _kind(status), getattr(exc, "code", None), getattr(exc, "param", None),
                          retry)
    try:
        from licensing.errors import LicensingError
    except ImportError:  # pragma: no cover - the licensing package is part of the appliance's install
        LicensingError = ()  # type: ignore[assignment,misc]
    if LicensingError and isinstance(exc, LicensingError):
        return ErrorShape(400, str(exc), "invalid_request_error", "license_error")
    return describe(exc)
