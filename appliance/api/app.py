"""`create_app`: the one place where the gateway is wired.

Services are passed in (tests, benchmarks, a console that shares them) or built in the lifespan from the
settings: the state database (migrated to head), the engine (`appliance.engines.build_engine`, which loads the
model in the background so /healthz answers at once), the code index. Whatever the lifespan built, it closes.

Add routes: write a router under `appliance/api/routes/` whose handlers take `PrincipalDep` / `AdminDep` /
`ServicesDep` from `appliance.api.deps` and call serving functions, then include it in `_ROUTERS` below (or
pass `routers=` to `create_app`, as the console does)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from appliance.api.body_limit import BodySizeLimitMiddleware
from appliance.api.handlers import install_error_handlers
from appliance.api.license_headers import LicenseHeadersMiddleware
from appliance.api.readiness import ServingGate
from appliance.api.request_metrics import RequestMetricsMiddleware
from appliance.api.routes import chat, completions, models
from appliance.api.routes.health import health_router
from appliance.api.services import Services
from appliance.api.usage import UsageRecorder
from appliance.auth.tokens import TokenStore
from appliance.engines.protocol import Engine
from appliance.metrics import GatewayMetrics
from appliance.prompts.errors import UnknownModelFamily
from appliance.prompts.families import ModelFamily, family_for_model, get_family
from appliance.prompts.trimming import cached_counter
from appliance.state.db import Database

if TYPE_CHECKING:
    from appliance.config import Settings
    from appliance.license_gate import LicenseRuntime
    from indexer.service import CodeIndex

log = logging.getLogger("codemoat.api")

_ROUTERS: tuple[APIRouter, ...] = (completions.router, chat.router, models.router)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    index: CodeIndex | None = None,
    database: Database | None = None,
    gate: ServingGate | None = None,
    license_runtime: LicenseRuntime | None = None,
    metrics: GatewayMetrics | None = None,
    open_index: bool = True,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The gateway app. Given services are used as they are and left open; missing ones are built at startup
    and closed at shutdown. `open_index=False` serves without repository context when no index is given.
    The license: `gate` replaces it outright (tests, benchmarks); otherwise `license_runtime`, or one opened
    from the settings, decides (see `appliance.license_gate`) and is started with the engine."""
    metrics = metrics if metrics is not None else GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = database
            if db is None:
                db = await asyncio.to_thread(Database.open, settings.state, settings.home)
                stack.callback(db.close)
            runtime = license_runtime
            if runtime is None and gate is None:
                runtime = await asyncio.to_thread(_open_license, settings, db)
            serving_gate = gate if gate is not None else runtime
            assert serving_gate is not None  # one of the two is always there
            eng = engine
            if eng is None:
                eng = _build_engine(settings, runtime)
                stack.push_async_callback(eng.aclose)
            if runtime is not None:
                # Started after the engine exists: a STOPPED license unloads it. Closed after it (LIFO).
                await asyncio.to_thread(runtime.start, eng)
                stack.callback(runtime.close)
            idx, index_error = index, None
            if idx is None and open_index:
                idx, index_error = await asyncio.to_thread(_open_index, settings)
                if idx is not None:
                    stack.callback(idx.close)
            elif idx is None:
                index_error = "disabled"
            usage = UsageRecorder(
                db,
                interval=settings.gateway.usage_flush_interval_s,
                batch_size=settings.gateway.usage_batch_size,
            )
            usage.start()
            stack.push_async_callback(usage.aclose)
            if hasattr(eng, "queued"):  # BoundedEngine: requests waiting for a slot
                metrics.watch_queue_depth(lambda: float(eng.queued))  # type: ignore[union-attr]
            app.state.services = Services(
                settings=settings,
                engine=eng,
                db=db,
                tokens=TokenStore(db),
                metrics=metrics,
                usage=usage,
                gate=serving_gate,
                family=_family(eng),
                count_tokens=cached_counter(eng.count_tokens),
                index=idx,
                index_error=index_error,
                model_aliases=frozenset(settings.gateway.served_model_aliases),
            )
            services = app.state.services
            warmup = asyncio.get_running_loop().create_task(
                _warm_index(idx, services.engine_loaded), name="index-warmup"
            )
            try:
                yield
            finally:
                warmup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warmup

    app = FastAPI(
        title="CodeMoat gateway",
        summary="OpenAI-compatible code completion and chat over your own repositories.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    included = (*_ROUTERS, *routers, health_router(metrics_auth=settings.gateway.metrics_auth))
    for router in included:
        app.include_router(router)

    known_paths = frozenset(getattr(route, "path", "") for router in included for route in router.routes)
    # Outermost first: count every answer (413s included), then refuse oversized bodies.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(LicenseHeadersMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics, routes=lambda: known_paths)
    return app


def _build_engine(settings: Settings, runtime: LicenseRuntime | None) -> Engine:
    from appliance.engines import build_engine

    if runtime is None:
        return build_engine(settings.engine, settings.home)
    return build_engine(
        settings.engine, settings.home, sealed_loader=runtime.sealed_loader, key_env=runtime.key_env
    )


def _open_license(settings: Settings, db: Database) -> LicenseRuntime:
    from appliance.audit.log import AuditLog
    from appliance.license_gate import LicenseRuntime

    return LicenseRuntime.open(settings, audit=AuditLog(db))


def _family(engine: Engine) -> ModelFamily:
    try:
        return get_family(engine.family)
    except UnknownModelFamily as exc:
        guessed = family_for_model(engine.model_id)
        log.warning("%s; using %r, guessed from the model id", exc, guessed.name)
        return guessed


def _open_index(settings: Settings) -> tuple[CodeIndex | None, str | None]:
    """Open the code index; serving goes on without repository context when it cannot be opened."""
    from indexer.errors import IndexerError
    from indexer.service import CodeIndex

    try:
        return CodeIndex.open(settings.indexer, settings.home), None
    except IndexerError as exc:
        log.warning("serving without repository context: %s", exc)
        return None, str(exc)


async def _warm_index(index: CodeIndex | None, engine_loaded: Callable[[], Awaitable[None]]) -> None:
    """Load the embedder and open the store before the first request needs them, once the engine has
    loaded: both import torch, and two threads importing it at once can leave one of them broken."""
    if index is None:
        return
    from appliance.engines.errors import EngineError
    from indexer.errors import IndexerError

    with contextlib.suppress(EngineError):
        await engine_loaded()

    def warm() -> None:
        if index.repositories():
            index.embedder, index.store  # noqa: B018 (touching them loads them)

    loading = asyncio.ensure_future(asyncio.to_thread(warm))
    try:
        await asyncio.shield(loading)
    except asyncio.CancelledError:
        # The thread cannot be stopped: let it finish before the index is closed under it.
        with contextlib.suppress(IndexerError):
            await loading
        raise
    except IndexerError as exc:
        log.warning("the code index could not be warmed up: %s", exc)
