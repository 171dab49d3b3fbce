"""Every error answer of the gateway becomes a message that says what to do (lsp.client.error_for_response)."""

from __future__ import annotations

import httpx
import pytest

from lsp.client import error_for_response
from lsp.errors import (
    ApplianceBusy,
    ApplianceFailed,
    AuthenticationFailed,
    BridgeError,
    LicenseBlocked,
    PermissionDenied,
    RepositoryUnavailable,
)

URL = "http://gw:8000"


def _answer(status: int, error: dict[str, str] | None = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("POST", f"{URL}/v1/completions")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json={"error": error or {}}, request=request)


@pytest.mark.parametrize(
    ("response", "kind", "says"),
    [
        (
            _answer(
                401, {"message": "invalid token", "type": "authentication_error", "code": "invalid_token"}
            ),
            AuthenticationFailed,
            "codemoat token create",
        ),
        (
            _answer(403, {"message": "token revoked", "type": "permission_error", "code": "revoked"}),
            PermissionDenied,
            "token revoked",
        ),
        (
            _answer(
                503,
                {
                    "message": "serving is stopped: license state STOPPED: lease expired",
                    "type": "service_unavailable",
                    "code": "license",
                },
            ),
            LicenseBlocked,
            "codemoat license status",
        ),
        (
            _answer(429, {"message": "queue full", "type": "rate_limit_error", "code": "queue_full"}),
            ApplianceBusy,
            "busy",
        ),
        (_answer(404, text="Not Found"), ApplianceFailed, "is `codemoat.url` the appliance's URL"),
        (
            _answer(
                404,
                {
                    "message": "no repository named 'web' is indexed here",
                    "type": "invalid_request_error",
                    "code": "repository_not_found",
                    "param": "repo",
                },
            ),
            RepositoryUnavailable,
            "no repository named 'web'",
        ),
        (_answer(500, text="<html>oops</html>"), ApplianceFailed, "HTTP 500"),
    ],
)
def test_error_answers_are_translated(response: httpx.Response, kind: type[BridgeError], says: str) -> None:
    error = error_for_response(response, URL)
    assert type(error) is kind
    assert says in error.message
    assert "\n" not in error.message


def test_only_a_busy_appliance_stays_silent() -> None:
    assert ApplianceBusy("x").user_visible is False
    assert all(
        cls("x").user_visible
        for cls in (AuthenticationFailed, PermissionDenied, LicenseBlocked, ApplianceFailed)
    )
