"""GET /openapi.json, when `gateway.openapi_schema` is on: the API's schema, for administrators only (it lists
every administration route). No HTML viewer is served: the usual ones load their scripts from a CDN."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from appliance.api.deps import AdminDep


def openapi_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json", summary="The OpenAPI schema (administrators)")
    async def schema(_admin: AdminDep) -> dict[str, Any]:
        return app.openapi()

    return router
