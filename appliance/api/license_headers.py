"""Every /v1 response carries the license state (`X-CodeMoat-License-State`, plus `X-CodeMoat-License-Warning`
in GRACE and RESTRICTED), errors and streams included, so editors and scripts see a lapse coming."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class LicenseHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str = "/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                services = getattr(scope["app"].state, "services", None)
                if services is not None:
                    headers = MutableHeaders(scope=message)
                    for name, value in services.gate.headers().items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
