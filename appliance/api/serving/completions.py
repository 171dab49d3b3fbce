"""`POST /v1/completions`.

Two paths, chosen by the request (`CompletionRequest.is_code_completion`):
- code completion at a cursor (a `suffix` or any CodeMoat field): context gathered within the latency budget
  (symbols near the cursor, hybrid retrieval on the prefix tail, the editor's snippets; only from repositories
  the caller may read), the model family's template within the token budget, and the output post-processed
  for the editor (end of line or block, no repetition of the suffix), stopping the model once it is done;
- plain text completion (OpenAI's semantics): the prompt goes to the model as is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from appliance.api import sse
from appliance.api.disconnect import unless_disconnected
from appliance.api.errors import InvalidRequestError
from appliance.api.generation import GenerationRun
from appliance.api.services import ServedModel, Services
from appliance.api.serving.limits import resolve_max_tokens, stop_sequences
from appliance.api.serving.trimmer import CompletionTrimmer
from appliance.api.sse import stream_error
from appliance.api.timing import StageTimer
from appliance.api.wire.common import Citation, CodemoatInfo, new_id, now
from appliance.api.wire.completions import CompletionChoice, CompletionRequest, CompletionResponse
from appliance.auth.principal import Principal
from appliance.engines.protocol import GenerationRequest
from appliance.prompts import completion as prompts
from appliance.prompts.languages import get_language
from indexer.types import SearchFilter

ENDPOINT = "completion"


@dataclass(slots=True)
class CompletionPrompt:
    text: str
    stops: tuple[str, ...] = ()
    citations: list[Citation] = field(default_factory=list)
    context_tokens: int | None = None
    prompt_tokens: int | None = None
    trimmer: CompletionTrimmer | None = None  # code completions only
    affinity_key: str | None = None


async def code_prompt(
    body: CompletionRequest,
    principal: Principal,
    services: Services,
    model: ServedModel,
    max_tokens: int,
    timer: StageTimer,
) -> CompletionPrompt:
    # `repo` is the repository the open file belongs to: its context comes from that repository only.
    scope = services.retrieval_scope(principal, [body.repo] if body.repo is not None else None)
    settings = services.completion_prompt(model)
    request = prompts.CursorContext(
        prefix=body.prompt_text(),
        suffix=body.suffix or "",
        path=body.path or "",
        language=body.language,
        repo=body.repo,
        editor_snippets=tuple(prompts.EditorSnippet(path=s.path, text=s.text) for s in body.snippets),
        scope=SearchFilter(repos=scope),
        mode=body.mode,
    )
    started = time.perf_counter()
    gathered = await prompts.gather_context(request, services.index, settings, started=started)
    after_retrieval = timer.mark_since("retrieval", started)
    services.count_context_failures(gathered.stages)
    await services.engine_loaded(model)
    built = prompts.assemble_completion_prompt(
        request,
        gathered.candidates,
        family=model.family,
        count_tokens=model.count_tokens,
        context_length=services.context_window("completion", model),
        max_tokens=max_tokens,
        settings=settings,
        stages=gathered.stages,
    )
    language = get_language(body.language, body.path or "")
    trimmer = CompletionTrimmer(
        prefix=request.prefix, suffix=request.suffix, language=language, mode=built.mode, stop=built.stop
    )
    timer.mark_since("prompt", after_retrieval)
    citations = [
        Citation(repo=s.repo, path=s.path, start_line=s.start_line, end_line=s.end_line, source=s.source)
        for s in built.snippets
    ]
    return CompletionPrompt(
        text=built.prompt,
        stops=built.stop,
        citations=citations,
        context_tokens=built.context_tokens,
        prompt_tokens=built.prompt_tokens,
        trimmer=trimmer,
        affinity_key=built.affinity_key,
    )


async def raw_prompt(
    body: CompletionRequest, services: Services, model: ServedModel, max_tokens: int, timer: StageTimer
) -> CompletionPrompt:
    started = time.perf_counter()
    text = body.prompt_text()
    await services.engine_loaded(model)
    engine = model.engine
    # Counted off the event loop: a long prompt takes a while to tokenize.
    tokens = await asyncio.to_thread(engine.count_tokens, text)
    if tokens >= engine.context_length:
        raise InvalidRequestError(
            f"the prompt is {tokens} tokens; the model's context is {engine.context_length} tokens",
            param="prompt",
            code="context_length_exceeded",
        )
    if tokens + max_tokens > engine.context_length:
        raise InvalidRequestError(
            f"the prompt ({tokens} tokens) plus max_tokens ({max_tokens}) exceeds the model's context of "
            f"{engine.context_length} tokens",
            param="max_tokens",
            code="context_length_exceeded",
        )
    timer.mark_since("prompt", started)
    return CompletionPrompt(text=text, prompt_tokens=tokens)


async def serve_completion(
    body: CompletionRequest, *, principal: Principal, services: Services, timer: StageTimer, request: Request
) -> Response:
    body.refuse_unhonoured()
    gateway = services.settings.gateway
    model = services.served_model(body.model, "completion")
    if not body.prompt_text() and not body.suffix:
        raise InvalidRequestError("prompt must not be empty", param="prompt")
    if len(body.snippets) > gateway.max_snippets:
        raise InvalidRequestError(
            f"snippets has {len(body.snippets)} entries; at most {gateway.max_snippets} are allowed",
            param="snippets",
        )
    max_tokens = resolve_max_tokens(body.max_tokens, default=gateway.completion_max_tokens, settings=gateway)
    stops = stop_sequences(body, gateway)
    if body.is_code_completion():
        prompt = await code_prompt(body, principal, services, model, max_tokens, timer)
    else:
        prompt = await raw_prompt(body, services, model, max_tokens, timer)

    request_id = new_id("cmpl")
    generation = GenerationRun(
        services,
        model.engine,
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
            affinity_key=prompt.affinity_key,
            request_id=request_id,
        ),
        stream=body.stream,
        repo=body.repo,
        language=body.language,
        prompt_tokens=prompt.prompt_tokens,
    )
    await unless_disconnected(request, generation.start())
    info = (
        CodemoatInfo(citations=prompt.citations, context_tokens=prompt.context_tokens)
        if prompt.trimmer is not None
        else None
    )
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse.EventStreamResponse(
            _events(generation, prompt.trimmer, request_id, model.model_id, info, include_usage),
            headers={"Server-Timing": timer.server_timing(), **services.completion_latency.headers()},
        )
    text, finish = await unless_disconnected(request, _collect(generation, prompt.trimmer))
    response = CompletionResponse(
        id=request_id,
        created=now(),
        model=model.model_id,
        choices=[CompletionChoice(text=text, finish_reason=finish)],  # type: ignore[arg-type]
        usage=generation.outcome.usage(),
        codemoat=info,
    )
    return JSONResponse(
        response.model_dump(mode="json"),
        headers={"Server-Timing": timer.server_timing(), **services.completion_latency.headers()},
    )


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


async def _collect(generation: GenerationRun, trimmer: CompletionTrimmer | None) -> tuple[str, str]:
    async with aclosing(generation.chunks()) as chunks:
        async for chunk in chunks:
            if trimmer is not None:
                trimmer.feed(chunk.text)
                if trimmer.ended:
                    generation.stop_early()
                    return trimmer.result(), "stop"  # leaving the loop closes the stream: generation stops
    if trimmer is not None:
        return trimmer.result(), _finish(generation.outcome.finish_reason)
    return generation.outcome.text, _finish(generation.outcome.finish_reason)


async def _events(
    generation: GenerationRun,
    trimmer: CompletionTrimmer | None,
    request_id: str,
    model: str,
    info: CodemoatInfo | None,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    created = now()

    def piece(text: str, finish: str | None = None) -> bytes:
        return sse.event(
            CompletionResponse(
                id=request_id,
                created=created,
                model=model,
                choices=[CompletionChoice(text=text, finish_reason=finish)],
            )
        )  # type: ignore[arg-type]

    def extra(**fields: object) -> bytes:
        return sse.event(
            CompletionResponse(id=request_id, created=created, model=model, choices=[], **fields)
        )  # type: ignore[arg-type]

    finish: str | None = None
    try:
        async with aclosing(generation.chunks()) as chunks:
            async for chunk in chunks:
                if trimmer is None:
                    if chunk.text or chunk.finish_reason is not None:
                        finish = _finish(chunk.finish_reason) if chunk.finish_reason is not None else None
                        yield piece(chunk.text, finish)
                    continue
                text = trimmer.feed(chunk.text)
                if text:
                    yield piece(text)
                if trimmer.ended:
                    generation.stop_early()
                    break
                if chunk.finish_reason is not None:
                    finish = _finish(chunk.finish_reason)
    except Exception as exc:  # noqa: BLE001 (the headers are sent: any failure travels as an error event)
        yield sse.error_event(stream_error(exc))
        return
    if trimmer is not None:
        yield piece(trimmer.finish(), finish or "stop")
    if include_usage:
        yield extra(usage=generation.outcome.usage())
    if info is not None:
        yield extra(codemoat=info)
    yield sse.DONE
