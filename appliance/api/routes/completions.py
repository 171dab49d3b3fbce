"""POST /v1/completions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from appliance.api.body import json_body
from appliance.api.deps import PrincipalDep, ServicesDep, ServingDep, TimerDep
from appliance.api.serving.completions import serve_completion
from appliance.api.wire.completions import CompletionRequest, CompletionResponse

router = APIRouter(prefix="/v1", tags=["completions"])

Body = Annotated[CompletionRequest, Depends(json_body(CompletionRequest))]


@router.post(
    "/completions",
    response_model=CompletionResponse,
    summary="Complete code at a cursor (OpenAI completions; `suffix` for fill-in-the-middle)",
)
async def completions(
    principal: PrincipalDep,
    _serving: ServingDep,
    body: Body,
    services: ServicesDep,
    timer: TimerDep,
    request: Request,
) -> Response:
    return await serve_completion(body, principal=principal, services=services, timer=timer, request=request)
