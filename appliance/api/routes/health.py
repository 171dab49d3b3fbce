"""/healthz (the process answers), /readyz (it can serve), /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from appliance.api.deps import ServicesDep, get_admin
from appliance.api.services import Services
from appliance.engines.errors import EngineError
from appliance.engines.protocol import Engine
from appliance.metrics import package_version


async def engine_detail(engine: Engine) -> str:
    """Why the engine is not ready: its load error when it has one (a model that failed to load says why)."""
    try:
        await engine.wait_until_ready(0.05)
    except EngineError as exc:
        return str(exc)
    return "not loaded (loading, failed, or unreachable)"


async def readiness(services: Services) -> dict[str, Any]:
    checks: dict[str, dict[str, Any]] = {}
    for model in services.distinct_models():
        ok = await model.engine.ready()
        # "engine" for the completion role's model (or the one model); "engine:chat" for a chat model of its own
        name = "engine" if "completion" in model.roles else "engine:chat"
        checks[name] = {
            "ok": ok,
            "model": model.model_id,
            "roles": list(model.roles),
            "detail": "loaded" if ok else await engine_detail(model.engine),
        }
    if services.index is not None:
        warm = services.index_warm
        checks["index"] = {"ok": warm, "detail": "open" if warm else "open, loading the embedder"}
    else:
        checks["index"] = {"ok": False, "detail": services.index_error or "not open"}
    state = services.gate.serving_state()
    checks["license"] = {"ok": state.allowed, "state": state.state, "detail": state.reason}
    return checks


def health_router(*, metrics_auth: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up (no authentication)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": package_version()}

    @router.get("/readyz", summary="The model is loaded, the index open and the license allows serving")
    async def readyz(services: ServicesDep) -> JSONResponse:
        checks = await readiness(services)
        ready = all(check["ok"] for check in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
        if not ready:
            failing = ", ".join(
                f"{name}: {check['detail']}" for name, check in checks.items() if not check["ok"]
            )
            body["error"] = {
                "message": f"not ready: {failing}",
                "type": "service_unavailable",
                "code": "not_ready",
                "param": None,
            }
        return JSONResponse(body, status_code=200 if ready else 503)

    guard: list[Any] = [Depends(get_admin)] if metrics_auth == "admin" else []

    @router.get(
        "/metrics", dependencies=guard, summary="Prometheus metrics (an administrator's token by default)"
    )
    async def metrics(request: Request, services: ServicesDep) -> Response:
        services.metrics.observe_readiness(await readiness(services))
        payload, content_type = services.metrics.render()
        return Response(payload, media_type=content_type)

    return router
