"""`POST /v1/completions`: a code completion at the cursor (`prompt` is the text before it, `suffix` after)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from fastapi.responses import JSONResponse, Response

from appliance.api import sse
from appliance.api.sse import stream_error
from appliance.api.errors import InvalidRequestError
from appliance.api.generation import GenerationRun
from appliance.api.serving.limits import resolve_max_tokens, stop_sequences
from appliance.api.services import Services
from appliance.api.timing import StageTimer
from appliance.api.wire.common import Citation, CodemoatInfo, new_id, now
from appliance.api.wire.completions import CompletionChoice, CompletionRequest, CompletionResponse
from appliance.auth.principal import Principal
from appliance.engines.protocol import GenerationRequest

ENDPOINT = "completion"


@dataclass(slots=True)
class CompletionPrompt:
    text: str
    stops: tuple[str, ...] = ()
    citations: list[Citation] = field(default_factory=list)


async def build_prompt(body: CompletionRequest, scope: tuple[str, ...] | None, services: Services,
                       timer: StageTimer) -> CompletionPrompt:
    """The prompt the engine sees. Until appliance.prompts is wired in: the caller's prompt as is."""
    started = time.perf_counter()
    prompt = CompletionPrompt(text=body.prompt_text())
    timer.mark_since("prompt", started)
    return prompt


async def serve_completion(body: CompletionRequest, *, principal: Principal, services: Services,
                           timer: StageTimer) -> Response:
    gateway = services.settings.gateway
    model = services.served_model(body.model)
    if not body.prompt_text() and not body.suffix:
        raise InvalidRequestError("prompt must not be empty", param="prompt")
    if len(body.snippets) > gateway.max_snippets:
        raise InvalidRequestError(
            f"snippets has {len(body.snippets)} entries; at most {gateway.max_snippets} are allowed", param="snippets"
        )
    max_tokens = resolve_max_tokens(body.max_tokens, default=gateway.completion_max_tokens, settings=gateway)
    stops = stop_sequences(body, gateway)
    scope = principal.scope([body.repo] if body.repo else None)

    prompt = await build_prompt(body, scope, services, timer)
    request_id = new_id("cmpl")
    generation = GenerationRun(
        services,
        principal,
        timer,
        endpoint=ENDPOINT,
        request=GenerationRequest(
            prompt=prompt.text,
            max_tokens=max_tokens,
            temperature=body.temperature if body.temperature is not None else 0.0,
            top_p=body.top_p if body.top_p is not None else 1.0,
            stop=tuple(dict.fromkeys(stops + prompt.stops)),
            seed=body.seed,
            affinity_key=f"{body.repo}:{body.path}" if body.repo and body.path else None,
            request_id=request_id,
        ),
        stream=body.stream,
        repo=body.repo,
        language=body.language,
    )
    await generation.start()
    info = CodemoatInfo(citations=prompt.citations) if prompt.citations else None
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse.EventStreamResponse(
            _events(generation, request_id, model, info, include_usage),
            headers={"Server-Timing": timer.server_timing()},
        )
    outcome = await generation.collect()
    response = CompletionResponse(
        id=request_id,
        created=now(),
        model=model,
        choices=[CompletionChoice(text=outcome.text, finish_reason=_finish(outcome.finish_reason))],
        usage=outcome.usage(),
        codemoat=info,
    )
    return JSONResponse(response.model_dump(mode="json"), headers={"Server-Timing": timer.server_timing()})


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


async def _events(generation: GenerationRun, request_id: str, model: str, info: CodemoatInfo | None,
                  include_usage: bool) -> AsyncIterator[bytes]:
    created = now()

    def piece(**fields: object) -> bytes:
        return sse.event(CompletionResponse(id=request_id, created=created, model=model, **fields))  # type: ignore[arg-type]

    try:
        async with aclosing(generation.chunks()) as chunks:
            async for chunk in chunks:
                if chunk.text or chunk.finish_reason is not None:
                    finish = _finish(chunk.finish_reason) if chunk.finish_reason is not None else None
                    yield piece(choices=[CompletionChoice(text=chunk.text, finish_reason=finish)])  # type: ignore[arg-type]
    except Exception as exc:  # the headers are sent: the failure travels as an error event
        yield sse.error_event(stream_error(exc))
        return
    outcome = generation.outcome
    if include_usage:
        yield piece(choices=[], usage=outcome.usage())
    if info is not None:
        yield piece(choices=[], codemoat=info)
    yield sse.DONE
