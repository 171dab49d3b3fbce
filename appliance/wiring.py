"""The composition root: every service of one appliance process is built here, from one `Settings`.

    async with open_appliance(settings) as appliance:
        appliance.services   # the gateway's: engine, index, state database, tokens, license gate, usage, metrics
        appliance.runner     # the repository job runner (scheduled syncs, index jobs), started
        appliance.console    # the console's (accounts, groups, sessions, ...) when `console.enabled`

`create_app` (FastAPI assembly only) opens it in its lifespan; the CLI and the tests go through the same
function. Services passed in (tests, benchmarks) are used as they are and left open; the ones built here are
closed here, last built first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.api.readiness import ServingGate
from appliance.api.services import ServedModel, Services
from appliance.api.usage import UsageRecorder
from appliance.audit.log import AuditLog
from appliance.auth.tokens import TokenStore
from appliance.engines.config import Role
from appliance.engines.protocol import Engine, QueueBound
from appliance.jobs.runner import JobRunner
from appliance.metrics import GatewayMetrics
from appliance.prompts.errors import UnknownModelFamily
from appliance.prompts.families import ModelFamily, family_for_model, get_family
from appliance.prompts.trimming import cached_counter
from appliance.state.db import Database

if TYPE_CHECKING:
    from appliance.config import Settings
    from appliance.console.services import ConsoleServices
    from appliance.license_gate import LicenseRuntime
    from indexer.service import CodeIndex

log = logging.getLogger("codemoat.api")


@dataclass
class Appliance:
    services: Services
    runner: JobRunner
    audit: AuditLog
    console: ConsoleServices | None


@asynccontextmanager
async def open_appliance(
    settings: Settings,
    *,
    engine: Engine | None = None,
    chat_engine: Engine | None = None,
    index: CodeIndex | None = None,
    database: Database | None = None,
    gate: ServingGate | None = None,
    license_runtime: LicenseRuntime | None = None,
    metrics: GatewayMetrics | None = None,
    open_index: bool = True,
) -> AsyncIterator[Appliance]:
    """Build the appliance's services. `engine` serves both roles unless `chat_engine` is given (else both
    are built from the settings); `open_index=False` serves without repository context when no index is
    given. The license: `gate` replaces it outright (tests, benchmarks); otherwise `license_runtime`, or one
    opened from the settings, decides (see `appliance.license_gate`) and is started with the engine."""
    metrics = metrics if metrics is not None else GatewayMetrics()
    async with AsyncExitStack() as stack:
        db = database
        if db is None:
            db = await asyncio.to_thread(Database.open, settings.state, settings.home)
            stack.callback(db.close)
        audit = await asyncio.to_thread(AuditLog.for_settings, db, settings)
        runtime = license_runtime
        if runtime is None and gate is None:
            runtime = await asyncio.to_thread(_open_license, settings, audit)
        serving_gate: ServingGate = gate if gate is not None else runtime  # type: ignore[assignment]
        engines = _engines(settings, runtime, engine, chat_engine)
        for built in engines.values():
            if built is not engine and built is not chat_engine:
                stack.push_async_callback(built.aclose)
        distinct = list({id(e): e for e in engines.values()}.values())
        if runtime is not None:
            # Started after the engines exist: a STOPPED license unloads them. Closed after them (LIFO).
            await asyncio.to_thread(runtime.start, distinct)
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
        bounded = [e for e in distinct if isinstance(e, QueueBound)]
        if bounded:
            metrics.watch_queue_depth(lambda: float(sum(e.queued for e in bounded)))
        services = Services(
            settings=settings,
            models=_served_models(engines),
            db=db,
            tokens=TokenStore(db),
            metrics=metrics,
            usage=usage,
            gate=serving_gate,
            index=idx,
            index_error=index_error,
            model_aliases=frozenset(settings.gateway.served_model_aliases),
        )
        runner = JobRunner(db, idx, settings.jobs, settings.home, index_error=index_error, metrics=metrics)
        runner.start()
        stack.push_async_callback(runner.aclose)
        console = None
        if settings.console.enabled:
            from appliance.console.services import ConsoleServices

            console = ConsoleServices.build(settings, services, runner, audit)
        warmup = asyncio.get_running_loop().create_task(
            _warm_index(idx, lambda: services.engine_loaded(services.models["completion"]), services),
            name="index-warmup",
        )
        try:
            yield Appliance(services=services, runner=runner, audit=audit, console=console)
        finally:
            warmup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warmup


def _engines(
    settings: Settings, runtime: LicenseRuntime | None, engine: Engine | None, chat_engine: Engine | None
) -> dict[Role, Engine]:
    if engine is not None:
        return {"completion": engine, "chat": chat_engine or engine}
    if chat_engine is not None:
        raise ValueError("chat_engine is given with engine, never alone")
    from appliance.engines import build_engines

    license_hooks = (
        {} if runtime is None else {"sealed_loader": runtime.sealed_loader, "key_env": runtime.key_env}
    )
    built = build_engines(settings.engine, settings.home, **license_hooks).by_role()
    return built


def _served_models(engines: dict[Role, Engine]) -> dict[Role, ServedModel]:
    served: dict[int, ServedModel] = {}
    for role, engine in engines.items():
        known = served.get(id(engine))
        if known is None:
            served[id(engine)] = ServedModel(
                engine, _family(engine), cached_counter(engine.count_tokens), (role,)
            )
        else:
            served[id(engine)] = ServedModel(
                known.engine, known.family, known.count_tokens, (*known.roles, role)
            )
    return {role: served[id(engine)] for role, engine in engines.items()}


def _open_license(settings: Settings, audit: AuditLog) -> LicenseRuntime:
    from appliance.license_gate import LicenseRuntime

    return LicenseRuntime.open(settings, audit=audit)


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


async def _warm_index(
    index: CodeIndex | None, engine_loaded: Callable[[], Awaitable[None]], services: Services
) -> None:
    """Load the embedder and open the store before the first request needs them, once the engine has
    loaded: both import torch, and two threads importing it at once can leave one of them broken. Until
    then /readyz says the index is warming up (a question asked before would get no sources in time)."""
    if index is None:
        services.index_warm = True
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
        services.index_warm = True
    except asyncio.CancelledError:
        # The thread cannot be stopped: let it finish before the index is closed under it.
        with contextlib.suppress(IndexerError):
            await loading
        raise
    except IndexerError as exc:
        log.warning("the code index could not be warmed up: %s", exc)
        services.index_warm = True  # requests load it themselves (and say why when they cannot)
