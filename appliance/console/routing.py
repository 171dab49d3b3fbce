"""Route classes of the console: every answer gets the security headers, and errors become JSON (API) or an
HTML page or a redirect to the sign-in page (pages). Errors raised by dependencies are caught too, since
FastAPI resolves dependencies inside the route handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.requests import Request

from appliance.api.errors import describe
from appliance.api.handlers import validation_shape
from appliance.api.security_headers import harden
from appliance.console.errors import LoginRequired
from appliance.errors import ApplianceError
from indexer.errors import IndexerError
from licensing.errors import LicensingError

log = logging.getLogger("codemoat.console")

Handler = Callable[[Request], Awaitable[Response]]


KNOWN: tuple[type[BaseException], ...] = (ApplianceError, IndexerError, LicensingError)


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


class ApiRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except RequestValidationError as exc:
                shape = validation_shape(exc.errors(), strip=("body", "query", "path", "header"))
                response = JSONResponse(shape.body(), status_code=shape.status)
            except KNOWN as exc:
                shape = describe(exc)
                if shape is None:
                    raise
                if shape.status >= 500:
                    log.warning("%s %s -> %d: %s", request.method, request.url.path, shape.status, exc)
                response = JSONResponse(shape.body(), status_code=shape.status, headers=shape.headers())
            harden(response.headers, secure=is_secure(request))
            return response

        return handler


class PageRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/console/login?next={quote(target, safe='/')}", status_code=303)
            except (RequestValidationError, *KNOWN) as exc:
                from appliance.console.pages_common import error_page

                if isinstance(exc, RequestValidationError):
                    shape = validation_shape(exc.errors(), strip=("body", "query", "path", "header"))
                else:
                    shape = describe(exc)
                    if shape is None:
                        raise
                response = error_page(request, shape.status, shape.message)
            harden(response.headers, secure=is_secure(request))
            return response

        return handler
