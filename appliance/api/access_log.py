"""One log line per HTTP request (`codemoat.access`): method, route template, status (499 when the client
left first), duration, user and request id. The request id comes from a well-formed `X-Request-Id` header (a
proxy's) or is made here, is returned in the response's `X-Request-Id`, and is on every record logged while
the request runs (appliance.logs)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance import logs

log = logging.getLogger("codemoat.access")
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GIVEN_ID.fullmatch(given) else secrets.token_hex(8)
        tokens = (logs.request_id.set(rid), logs.path.set(scope["path"]))
        started = time.perf_counter()
        status = 500

        async def tagged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        finally:
            matched = getattr(scope.get("route"), "path", None) or "other"
            principal = (scope.get("state") or {}).get("principal")
            name = getattr(principal, "user_name", "") or ""
            ms = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                matched,
                status,
                ms,
                extra={
                    "method": scope["method"],
                    "route": matched,
                    "status": status,
                    "duration_ms": ms,
                    "user": name,
                },
            )
            logs.request_id.reset(tokens[0])
            logs.path.reset(tokens[1])
