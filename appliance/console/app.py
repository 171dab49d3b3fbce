"""The console's router: pages, the JSON API and static files. Its services are built with the gateway's in
`appliance.wiring` and reached through `deps.ConsoleDep`."""

from __future__ import annotations

import mimetypes
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance.console import api_account, api_admin, api_chat, pages
from appliance.console.pages_common import STATIC
from appliance.console.render import highlight_css
from appliance.console.routing import ApiRoute


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


def console_router() -> APIRouter:
    router = APIRouter()
    static = APIRouter(route_class=ApiRoute, include_in_schema=False)

    @static.get("/console/static/{name}")
    def static_file(name: str, request: Request) -> Response:
        found = static_files().get(name)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        content, media = found
        return Response(content, media_type=media, headers={"Cache-Control": "public, max-age=3600"})

    for sub in (pages.router, api_chat.router, api_account.router, api_admin.router, static):
        router.include_router(sub)
    return router
