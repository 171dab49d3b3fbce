"""The console's router: pages, the JSON API, the editor bridge's telemetry endpoint and static files, with a
lifespan that builds the console's services from the gateway's (the gateway's lifespan runs first) and runs
the repository job runner for as long as the app serves."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from appliance.console import api_account, api_admin, api_chat, pages, telemetry
from appliance.console.pages_common import STATIC
from appliance.console.render import highlight_css
from appliance.console.routing import ApiRoute
from appliance.console.services import ConsoleServices

if TYPE_CHECKING:
    from appliance.config import Settings


@lru_cache(maxsize=1)
def static_files() -> dict[str, tuple[bytes, str]]:
    """Every file the console serves, by name, read once: a request can only ever name one of these."""
    files = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files[path.name] = (path.read_bytes(), media)
    files["highlight.css"] = (highlight_css().encode(), "text/css")
    return files


def build_router(settings: Settings) -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        console = ConsoleServices.build(settings, app.state.services)
        app.state.console = console
        console.runner.start()
        try:
            yield
        finally:
            await console.runner.aclose()

    router = APIRouter(lifespan=lifespan)
    static = APIRouter(route_class=ApiRoute, include_in_schema=False)

    @static.get("/console/static/{name}")
    def static_file(name: str, request: Request) -> Response:
        found = static_files().get(name)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        content, media = found
        return Response(content, media_type=media, headers={"Cache-Control": "public, max-age=3600"})

    for sub in (pages.router, api_chat.router, api_account.router, api_admin.router, telemetry.router, static):
        router.include_router(sub)
    return router
