"""POST /v1/telemetry/completions: the editor bridge's acceptance events, with the bridge's bearer token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from appliance.api.deps import PrincipalDep, ServicesDep
from appliance.api.feedback import FeedbackEvent, record_feedback
from appliance.api.wire.telemetry import CompletionTelemetry

router = APIRouter(prefix="/v1", tags=["telemetry"])


@router.post("/telemetry/completions", status_code=204, summary="Acceptance telemetry from the editor bridge")
async def completion_telemetry(
    body: CompletionTelemetry, principal: PrincipalDep, services: ServicesDep
) -> Response:
    event = FeedbackEvent(
        event=body.event,
        completion_id=body.completion_id,
        language=body.language,
        model=body.model,
        latency_ms=float(body.latency_ms) if body.latency_ms is not None else None,
        chars=body.chars,
        lines=body.lines,
        from_cache=body.from_cache,
        client=body.client,
    )
    await run_in_threadpool(
        record_feedback, services.db, event, user_id=principal.user_id, token_id=principal.token_id
    )
    return Response(status_code=204)
