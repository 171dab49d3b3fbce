"""`POST /v1/telemetry/completions`: the editor bridge's acceptance events (lsp/telemetry.py), with the
bridge's bearer token. What the usage page's acceptance rate is computed from."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from appliance.api.deps import PrincipalDep
from appliance.console.deps import ConsoleDep
from appliance.console.usage_stats import FeedbackEvent

router = APIRouter(prefix="/v1", tags=["telemetry"])


class CompletionTelemetry(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    event: Literal["shown", "accepted", "rejected"]
    completion_id: str = Field(min_length=1, max_length=128)
    language: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=256)
    chars: int = Field(0, ge=0, le=10_000_000)
    lines: int = Field(0, ge=0, le=1_000_000)
    latency_ms: float | int | None = Field(None, ge=0, le=3_600_000)
    from_cache: bool = False
    client: str = Field("", max_length=128)


@router.post("/telemetry/completions", status_code=204, summary="Acceptance telemetry from the editor bridge")
async def completion_telemetry(body: CompletionTelemetry, principal: PrincipalDep, console: ConsoleDep) -> Response:
    event = FeedbackEvent(event=body.event, completion_id=body.completion_id, language=body.language,
                          model=body.model, latency_ms=float(body.latency_ms) if body.latency_ms is not None else None,
                          chars=body.chars, lines=body.lines, from_cache=body.from_cache, client=body.client)
    await run_in_threadpool(console.usage.record_feedback, event, user_id=principal.user_id,
                            token_id=principal.token_id)
    return Response(status_code=204)
