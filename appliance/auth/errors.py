"""Errors of authentication and authorization, each with a message safe to show the caller.

ApplianceError
└── AuthError                    400
    ├── AuthenticationError      401: no token, or one that matches nothing
    ├── PermissionDeniedError    403: the token is revoked, its user disabled, or the request is out of scope
    ├── TokenNotFoundError       `codemoat token revoke` names no token
    ├── TokenConflictError       a live token already has that name, or the user exists with another role
    └── TokenScopeError          a token would name repositories its user may not read
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = [
    "AuthError",
    "AuthenticationError",
    "PermissionDeniedError",
    "TokenConflictError",
    "TokenNotFoundError",
    "TokenScopeError",
]


class AuthError(ApplianceError):
    status = 400
    code = "invalid_request"


class AuthenticationError(AuthError):
    status = 401
    code = "invalid_api_key"
    exit_code = 4


class PermissionDeniedError(AuthError):
    status = 403
    code = "permission_denied"
    exit_code = 5


class TokenNotFoundError(AuthError):
    exit_code = 2


class TokenConflictError(AuthError):
    exit_code = 2


class TokenScopeError(AuthError):
    exit_code = 2
