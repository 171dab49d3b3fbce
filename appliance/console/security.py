"""Response headers of every console page and API answer: a strict Content-Security-Policy (scripts, styles,
images and connections from this origin only; no inline script or style, no plugins, no framing), and the
usual hardening headers. Model output and repository text reach pages only escaped (Jinja2 autoescaping,
`textContent`, markdown-it with raw HTML disabled, Pygments' escaping): the policy is the second wall."""

from __future__ import annotations

from collections.abc import MutableMapping

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
