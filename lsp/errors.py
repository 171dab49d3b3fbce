"""What can go wrong between the editor and the appliance, as messages a developer can act on.

    BridgeError                  every error the bridge reports; `problem` groups repeats of the same trouble
     ├── ConfigError             a setting is missing or malformed (token file unreadable, bad URL, wrong type)
     ├── ApplianceUnreachable    connection refused, DNS failure, TLS failure, connect timeout
     ├── AuthenticationFailed    401: missing, wrong or revoked token
     ├── PermissionDenied        403: the token may not use this endpoint or repository
     ├── RepositoryUnavailable   404: the workspace's repository is not indexed (asked again without it)
     ├── LicenseBlocked          the appliance's license does not allow serving (stopped / restricted)
     ├── ApplianceBusy           429: the queue is full; silent, the next keystroke tries again
     ├── SuggestionTooSlow       a suggestion did not arrive in time (shown once a session, with the new wait)
     └── ApplianceFailed         any other error answer (5xx, malformed body)

`problem` is the key the reporter shows once: the same trouble on every keystroke produces one message."""

from __future__ import annotations

__all__ = [
    "BridgeError",
    "ConfigError",
    "ApplianceUnreachable",
    "AuthenticationFailed",
    "PermissionDenied",
    "RepositoryUnavailable",
    "LicenseBlocked",
    "ApplianceBusy",
    "SuggestionTooSlow",
    "ApplianceFailed",
]


class BridgeError(Exception):
    problem: str = "bridge"
    # Whether the user should hear about it; a busy queue is routine and only logged.
    user_visible: bool = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(BridgeError):
    problem = "config"


class ApplianceUnreachable(BridgeError):
    problem = "unreachable"


class AuthenticationFailed(BridgeError):
    problem = "auth"


class PermissionDenied(BridgeError):
    problem = "forbidden"


class RepositoryUnavailable(BridgeError):
    """The appliance has not indexed the workspace's repository."""

    problem = "repository"


class LicenseBlocked(BridgeError):
    problem = "license"


class ApplianceBusy(BridgeError):
    problem = "busy"
    user_visible = False


class SuggestionTooSlow(BridgeError):
    problem = "slow"


class ApplianceFailed(BridgeError):
    problem = "appliance"
