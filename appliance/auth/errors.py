"""Errors of authentication and authorization, each with a message safe to show the caller.

ApplianceError
└── AuthError
    ├── AuthenticationError      no token, or one that matches nothing (HTTP 401)
    ├── PermissionDeniedError    the token is revoked, its user disabled, or the request is out of scope (403)
    ├── TokenNotFoundError       `codemoat token revoke` names no token
    └── TokenConflictError       a live token already has that name, or the user exists with another role
"""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = [
    "AuthError",
    "AuthenticationError",
    "PermissionDeniedError",
    "TokenConflictError",
    "TokenNotFoundError",
]


class AuthError(ApplianceError):
    """`param` names the request field at fault, when there is one (the `repo` outside a token's scope)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class AuthenticationError(AuthError):
    exit_code = 4


class PermissionDeniedError(AuthError):
    exit_code = 5


class TokenNotFoundError(AuthError):
    exit_code = 2


class TokenConflictError(AuthError):
    exit_code = 2
