"""`POST /v1/chat/completions`: questions about the code, answered with the sources they drew on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from appliance.api import sse
from appliance.api.disconnect import unless_disconnected
from appliance.api.errors import InvalidRequestError
from appliance.api.generation import GenerationRun
from appliance.api.services import ServedModel, Services
from appliance.api.serving.limits import resolve_max_tokens, stop_sequences
from appliance.api.sse import stream_error
from appliance.api.timing import StageTimer
from appliance.api.wire.chat import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChunkChoice,
    Delta,
)
from appliance.api.wire.common import Citation, CodemoatInfo, new_id, now
from appliance.auth.principal import Principal
from appliance.engines.protocol import GenerationRequest
from appliance.prompts.chat import build_chat_prompt
from indexer.types import SearchFilter

ENDPOINT = "chat"


@dataclass(slots=True)
class ChatPrompt:
    messages: tuple[dict[str, Any], ...]
    citations: list[Citation] = field(default_factory=list)
    prompt_tokens: int | None = None
    context_note: str | None = None


async def build_messages(
    body: ChatCompletionRequest,
    scope: tuple[str, ...] | None,
    services: Services,
    model: ServedModel,
    max_tokens: int,
    timer: StageTimer,
) -> ChatPrompt:
    """Retrieve sources for the question within the caller's scope, and fit them and the conversation into
    the model's context (appliance.prompts.chat)."""
    started = time.perf_counter()
    await services.engine_loaded(model)
    built = await build_chat_prompt(
        [{"role": _engine_role(m.role), "content": m.text()} for m in body.messages],
        count_tokens=model.count_tokens,
        context_length=services.context_window("chat", model),
        max_tokens=max_tokens,
        source=services.index,
        scope=SearchFilter(repos=scope),
        settings=services.settings.gateway.chat_prompt,
        retrieve=body.codemoat.context if body.codemoat is not None else None,
    )
    total = time.perf_counter() - started
    services.count_context_failures(built.stages)
    # Retrieval queries run side by side: the stage lasts as long as the slowest.
    retrieval = max((s.ms for s in built.stages if s.name.startswith("retrieval")), default=0.0) / 1000
    timer.add("retrieval", min(retrieval, total))
    timer.add("prompt", max(total - retrieval, 0.0))
    citations = [
        Citation(
            index=c.index,
            repo=c.repo,
            path=c.path,
            start_line=c.start_line,
            end_line=c.end_line,
            preview=c.preview,
        )
        for c in built.citations
    ]
    return ChatPrompt(
        messages=built.messages,
        citations=citations,
        prompt_tokens=built.prompt_tokens,
        context_note=built.context_note,
    )


def _engine_role(role: str) -> str:
    # "developer" is OpenAI's newer name for "system"; chat templates know only the older one.
    return "system" if role == "developer" else role


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


async def serve_chat(
    body: ChatCompletionRequest,
    *,
    principal: Principal,
    services: Services,
    timer: StageTimer,
    request: Request,
) -> Response:
    body.refuse_unhonoured()
    gateway = services.settings.gateway
    model = services.served_model(body.model, "chat")
    if not any(m.text().strip() for m in body.messages if m.role in ("user", "system", "developer")):
        raise InvalidRequestError(
            "messages: at least one user or system message must have content", param="messages"
        )
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    max_tokens = resolve_max_tokens(
        body.requested_max_tokens(), default=gateway.chat_max_tokens, settings=gateway, param=param
    )
    stops = stop_sequences(body, gateway)
    scope = services.retrieval_scope(principal, body.repos())

    prompt = await build_messages(body, scope, services, model, max_tokens, timer)
    request_id = new_id("chatcmpl")
    generation = GenerationRun(
        services,
        model.engine,
        principal,
        timer,
        endpoint=ENDPOINT,
        request=GenerationRequest(
            messages=prompt.messages,
            max_tokens=max_tokens,
            temperature=body.temperature if body.temperature is not None else 0.0,
            top_p=body.top_p if body.top_p is not None else 1.0,
            stop=stops,
            seed=body.seed,
            request_id=request_id,
        ),
        stream=body.stream,
        repo=",".join(scope) if scope else None,
        prompt_tokens=prompt.prompt_tokens,
    )
    await unless_disconnected(request, generation.start())
    info = CodemoatInfo(citations=prompt.citations, context_note=prompt.context_note)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse.EventStreamResponse(
            _events(generation, request_id, model.model_id, info, include_usage),
            headers={"Server-Timing": timer.server_timing()},
        )
    outcome = await unless_disconnected(request, generation.collect())
    response = ChatCompletionResponse(
        id=request_id,
        created=now(),
        model=model.model_id,
        choices=[
            ChatChoice(
                message=AssistantMessage(content=outcome.text), finish_reason=_finish(outcome.finish_reason)
            )
        ],  # type: ignore[arg-type]
        usage=outcome.usage(),
        codemoat=info,
    )
    return JSONResponse(response.model_dump(mode="json"), headers={"Server-Timing": timer.server_timing()})


async def _events(
    generation: GenerationRun, request_id: str, model: str, info: CodemoatInfo, include_usage: bool
) -> AsyncIterator[bytes]:
    created = now()

    def piece(**fields: Any) -> bytes:
        return sse.event(ChatCompletionChunk(id=request_id, created=created, model=model, **fields))

    yield piece(choices=[ChunkChoice(delta=Delta(role="assistant", content=""))])
    try:
        async with aclosing(generation.chunks()) as chunks:
            async for chunk in chunks:
                if chunk.text:
                    yield piece(choices=[ChunkChoice(delta=Delta(content=chunk.text))])
                if chunk.finish_reason is not None:
                    yield piece(
                        choices=[ChunkChoice(delta=Delta(), finish_reason=_finish(chunk.finish_reason))]
                    )
    except Exception as exc:  # noqa: BLE001 (the headers are sent: any failure travels as an error event)
        yield sse.error_event(stream_error(exc))
        return
    if include_usage:
        yield piece(choices=[], usage=generation.outcome.usage())
    # The sources, in a last chunk of their own (OpenAI clients ignore a chunk without choices).
    yield piece(choices=[], codemoat=info)
    yield sse.DONE
