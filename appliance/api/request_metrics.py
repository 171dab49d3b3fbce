"""Count every HTTP answer and time it to its last byte (streams included), by route and status."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.metrics import GatewayMetrics


class RequestMetricsMiddleware:
    """The label is the route's template (`/console/admin/users/{user_id}`), read from what the router matched;
    else the path when `routes` knows it (mounted endpoints such as /mcp); anything else (scanners, typos)
    counts as "other", so that label cardinality stays bounded."""

    def __init__(
        self, app: ASGIApp, *, metrics: GatewayMetrics, routes: Callable[[], frozenset[str]]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                matched = getattr(scope.get("route"), "path", None)  # set by the router, in this same scope
                route = matched or (path if path in self.routes() else "other")
                self.metrics.http_requests.labels(scope["method"], route, str(status)).inc()
                self.metrics.http_seconds.labels(route).observe(time.perf_counter() - started)

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()

        try:
            await self.app(scope, receive, observing_send)
        finally:
            record()  # a client that went away mid-stream still counts, with the status it was sent
