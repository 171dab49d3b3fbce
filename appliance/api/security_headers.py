"""Response headers of every answer, whatever the route (console pages, the API, a 404 for a path nothing
serves): a strict Content-Security-Policy (scripts, styles, images and connections from this origin only; no
inline script or style, no plugins, no framing), and the usual hardening headers. `SecurityHeadersMiddleware`
adds what a route did not set itself (the console's static files keep their own caching). Model output and repository text reach pages only escaped (Jinja2 autoescaping,
`textContent`, markdown-it with raw HTML disabled, Pygments' escaping): the policy is the second wall."""

from __future__ import annotations

from collections.abc import MutableMapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [  # noqa: FLY002 (one directive per line reads better)
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def harden(headers: MutableMapping[str, str], *, secure: bool, cache: bool = False) -> None:
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not cache:
        headers.setdefault("Cache-Control", "no-store")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                missing = {name: value for name, value in HEADERS.items() if name not in headers}
                if scope.get("scheme") == "https" and "strict-transport-security" not in headers:
                    missing["Strict-Transport-Security"] = "max-age=31536000"
                if "cache-control" not in headers:
                    missing["Cache-Control"] = "no-store"
                for name, value in missing.items():
                    headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_hardened)
