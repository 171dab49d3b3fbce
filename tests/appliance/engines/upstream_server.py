"""A small real OpenAI-compatible server over the TransformersEngine, for the router and supervisor tests.

Run: `python tests/appliance/engines/upstream_server.py --port N --home DIR [--name NAME]`. It serves
`/health`, `/v1/models`, `/v1/completions` and `/v1/chat/completions` (streamed or not) with the real CPU
model, like vLLM or llama.cpp's server would; the gateway's own API lives in appliance/api."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from appliance.engines import EngineError, EngineSettings, GenerationRequest
from appliance.engines.transformers_engine import TransformersEngine


class CompletionBody(BaseModel):
    model: str | None = None
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None


def create_app(home: Path, name: str) -> FastAPI:
    engine = TransformersEngine(
        EngineSettings(kind="transformers", model="smollm2-135m", model_id=name), home
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(EngineError)
    async def engine_error(_: Request, exc: EngineError) -> JSONResponse:
        return JSONResponse(
            {"error": {"message": str(exc), "type": exc.code, "code": exc.code}}, status_code=exc.status
        )

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=200 if await engine.ready() else 503)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "max_model_len": engine.context_length}],
        }

    async def serve(body: CompletionBody, chat: bool) -> Any:
        stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
        request = GenerationRequest(
            prompt=None if chat else body.prompt,
            messages=tuple(body.messages or ()) if chat else None,
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            stop=stop,
            seed=body.seed,
        )
        stream = engine.stream(request)
        first = await anext(stream)  # engine errors surface here, before the 200 goes out
        ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def event(text: str, finish: str | None) -> dict[str, Any]:
            choice = (
                {"index": 0, "delta": {"content": text}, "finish_reason": finish}
                if chat
                else {"index": 0, "text": text, "finish_reason": finish}
            )
            return {
                "id": ident,
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": created,
                "model": name,
                "choices": [choice],
            }

        async def chunks() -> AsyncIterator[Any]:
            chunk = first
            while True:
                yield chunk
                if chunk.finish_reason is not None:
                    return
                chunk = await anext(stream)

        def usage(last: Any) -> dict[str, int]:
            return {
                "prompt_tokens": last.prompt_tokens,
                "completion_tokens": last.completion_tokens,
                "total_tokens": last.prompt_tokens + last.completion_tokens,
            }

        if not body.stream:
            parts = [c async for c in chunks()]
            text = "".join(c.text for c in parts)
            whole = event(text, parts[-1].finish_reason)
            if chat:
                whole["choices"][0] = {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": parts[-1].finish_reason,
                }
            return {**whole, "usage": usage(parts[-1])}

        async def sse() -> AsyncIterator[str]:
            try:
                async for chunk in chunks():
                    yield f"data: {json.dumps(event(chunk.text, chunk.finish_reason))}\n\n"
                    if chunk.finish_reason and (body.stream_options or {}).get("include_usage"):
                        yield f"data: {json.dumps({**event('', None), 'choices': [], 'usage': usage(chunk)})}\n\n"
                yield "data: [DONE]\n\n"
            finally:
                await stream.aclose()

        return StreamingResponse(sse(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(body: CompletionBody) -> Any:
        return await serve(body, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: CompletionBody) -> Any:
        return await serve(body, chat=True)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--name", default="smollm2-135m-instruct")
    args = parser.parse_args()
    uvicorn.run(create_app(args.home, args.name), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
