"""Errors of signing in, each with a message safe to show. Administration refusals (a malformed field, no such
user or group, a name taken) are the generic `InvalidInputError`, `NotFoundError` and `ConflictError` of
`appliance.errors`.

    ApplianceError
    └── AuthError
        ├── AuthenticationError
        │   └── SignInError              401: wrong user name or password (never says which)
        └── SignInThrottledError         429: too many failed sign-ins; `retry_after` seconds
"""

from __future__ import annotations

from appliance.auth.errors import AuthenticationError, AuthError

__all__ = ["SignInError", "SignInThrottledError"]


class SignInError(AuthenticationError):
    code = "invalid_credentials"


class SignInThrottledError(AuthError):
    status = 429
    code = "too_many_attempts"
    exit_code = 5

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
