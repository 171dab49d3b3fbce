"""POST /v1/chat/completions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from appliance.api.body import json_body
from appliance.api.deps import PrincipalDep, ServicesDep, ServingDep, TimerDep
from appliance.api.serving.chat import serve_chat
from appliance.api.wire.chat import ChatCompletionRequest, ChatCompletionResponse

router = APIRouter(prefix="/v1", tags=["chat"])

Body = Annotated[ChatCompletionRequest, Depends(json_body(ChatCompletionRequest))]


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    summary="Chat about the code (OpenAI chat completions; `stream` for server-sent events)",
)
async def chat_completions(
    principal: PrincipalDep,
    _serving: ServingDep,
    body: Body,
    services: ServicesDep,
    timer: TimerDep,
    request: Request,
) -> Response:
    return await serve_chat(body, principal=principal, services=services, timer=timer, request=request)
