"""Errors of account and group administration and of signing in, each with a message safe to show.

    ApplianceError
    └── AuthError
        ├── AccountError                 administration refused (`status`: the HTTP answer, `param`: the field)
        │   ├── InvalidInputError        400: a field is malformed
        │   ├── NotFoundError            404: no such user, group or grant
        │   └── ConflictError            409: it exists already, or the change would leave no administrator
        ├── AuthenticationError
        │   └── SignInError              401: wrong user name or password (never says which)
        └── SignInThrottledError         429: too many failed sign-ins; `retry_after` seconds
"""

from __future__ import annotations

from appliance.auth.errors import AuthenticationError, AuthError

__all__ = [
    "AccountError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "SignInError",
    "SignInThrottledError",
]


class AccountError(AuthError):
    status = 400
    code = "invalid_request"
    exit_code = 2


class InvalidInputError(AccountError):
    status = 400
    code = "invalid_value"


class NotFoundError(AccountError):
    status = 404
    code = "not_found"


class ConflictError(AccountError):
    status = 409
    code = "conflict"


class SignInError(AuthenticationError):
    status = 401
    code = "invalid_credentials"


class SignInThrottledError(AuthError):
    status = 429
    code = "too_many_attempts"
    exit_code = 5

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
