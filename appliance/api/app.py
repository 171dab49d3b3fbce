"""`create_app`: the gateway's FastAPI assembly (routes, middleware, error handlers). The services are built in
the composition root, `appliance.wiring.open_appliance`, which the lifespan opens; services passed in (tests,
benchmarks) are handed to it as they are.

Add routes: write a router under `appliance/api/routes/` whose handlers take `PrincipalDep` / `AdminDep` /
`ServicesDep` from `appliance.api.deps` and call serving functions, then include it in `_ROUTERS` below (or
pass `routers=`). The console's routes are included when `console.enabled`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from appliance.api.access_log import AccessLogMiddleware
from appliance.api.body_limit import BodySizeLimitMiddleware
from appliance.api.handlers import install_error_handlers
from appliance.api.license_headers import LicenseHeadersMiddleware
from appliance.api.request_metrics import RequestMetricsMiddleware
from appliance.api.routes import chat, completions, embeddings, models, telemetry
from appliance.api.routes.health import health_router
from appliance.api.routes.openapi import openapi_router
from appliance.api.security_headers import SecurityHeadersMiddleware
from appliance.metrics import GatewayMetrics

if TYPE_CHECKING:
    from appliance.config import Settings

_ROUTERS: tuple[APIRouter, ...] = (
    completions.router,
    chat.router,
    embeddings.router,
    models.router,
    telemetry.router,
)


_VERSION = version("codemoat")

# What a browser client may read of an answer beyond the CORS-safe headers.
CORS_EXPOSED = (
    "X-CodeMoat-License-State",
    "X-CodeMoat-License-Warning",
    "X-CodeMoat-Expected-Ms",
    "Retry-After",
    "Server-Timing",
    "X-Request-Id",
)


def create_app(
    settings: Settings,
    *,
    metrics: GatewayMetrics | None = None,
    routers: Sequence[APIRouter] = (),
    **services: Any,
) -> FastAPI:
    """The gateway app, with `routers` added to its own. `services` go to `open_appliance` (engine, index,
    database, gate, license_runtime, open_index): given ones are used as they are and left open, missing ones
    built at startup and closed at shutdown."""
    from appliance.wiring import open_appliance

    metrics = metrics if metrics is not None else GatewayMetrics()

    mcp = None
    if settings.mcp.enabled:
        from appliance.mcp.server import McpEndpoint

        mcp = McpEndpoint(settings, version=_VERSION)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_appliance(settings, metrics=metrics, **services) as appliance:
            app.state.services = appliance.services
            app.state.console = appliance.console
            app.state.runner = appliance.runner
            async with mcp.running() if mcp is not None else nullcontext():
                yield

    # No /docs or /redoc (they load scripts from a CDN, and the appliance is air-gapped); the OpenAPI schema
    # lists every admin route, so it is off by default and, when on, for administrators only.
    app = FastAPI(
        title="CodeMoat gateway",
        summary="OpenAI-compatible code completion and chat over your own repositories.",
        version=_VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    included = [*_ROUTERS, *routers, health_router(metrics_auth=settings.gateway.metrics_auth)]
    if settings.gateway.openapi_schema:
        included.append(openapi_router(app))
    if settings.console.enabled:
        from appliance.console.app import console_router

        included.append(console_router())
    for router in included:
        app.include_router(router)
    if mcp is not None:
        # An ASGI endpoint, as the SDK mounts its own: Streamable HTTP takes POST, GET and DELETE at one path.
        app.router.routes.append(Route("/mcp", endpoint=mcp))

    known_paths = frozenset(getattr(route, "path", "") for router in included for route in router.routes)
    if mcp is not None:
        known_paths |= {"/mcp"}
    # Outermost first: count every answer (413s included), harden every answer, then refuse oversized bodies.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(LicenseHeadersMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics, routes=lambda: known_paths)
    app.add_middleware(AccessLogMiddleware)  # outermost: its request id is on every line logged within
    if settings.gateway.cors_origins:
        # Outermost: a browser's preflight is answered before authentication, which it cannot pass.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.gateway.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=list(CORS_EXPOSED),
            max_age=600,
        )
    return app
