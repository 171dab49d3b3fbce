"""UpstreamEngine against a real HTTP server that misbehaves on demand (the prompt picks the failure), and
against a closed port: every failure surfaces as the right EngineError subclass, never an httpx exception."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from appliance.engines import (
    EngineRequestError,
    EngineSettings,
    EngineUnavailableError,
    GenerationRequest,
    QueueFullError,
    UpstreamError,
    build_engine,
)
from appliance.engines.upstream import UpstreamEngine
from appliance.errors import ConfigError
from tests.appliance.engines.conftest import collect, text_of


def _event(text: str, finish: str | None = None) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": finish}]}) + "\n\n"


def misbehaving_app() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        return {"object": "list", "data": [{"id": "served-model", "max_model_len": 4096}]}

    @app.post("/v1/completions")
    async def completions(request: Request):  # type: ignore[no-untyped-def]
        body = await request.json()
        case = body["prompt"]
        if case.startswith("status-"):
            status = int(case.removeprefix("status-"))
            headers = {"Retry-After": "7"} if status == 429 else {}
            return JSONResponse(
                {"error": {"message": f"failure {status}", "type": "x"}}, status_code=status, headers=headers
            )

        async def events() -> AsyncIterator[str]:
            if case == "ok":
                yield _event("hello")
                yield _event(" world", "length")
                yield (
                    "data: "
                    + json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
                    + "\n\n"
                )
                yield "data: [DONE]\n\n"
            elif case == "echo-request":
                yield _event(json.dumps(body, sort_keys=True), "stop")
                yield "data: [DONE]\n\n"
            elif case == "malformed":
                yield _event("fine so far")
                yield "data: {this is not json\n\n"
            elif case == "no-choices":
                yield 'data: {"id": "x"}\n\n'
            elif case == "error-event":
                yield 'data: {"error": {"message": "the GPU fell over"}}\n\n'
            elif case == "truncated":
                yield _event("half an ans")
            elif case == "slow":
                await asyncio.sleep(3)
                yield _event("late", "stop")

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(misbehaving_app(), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # uvicorn offers no event; it starts in milliseconds
        thread.join(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(url: str, prompt: str, **kwargs: object) -> list:
    engine = UpstreamEngine(url, **kwargs)  # type: ignore[arg-type]
    try:
        return await collect(engine.stream(GenerationRequest(prompt=prompt, max_tokens=8)))
    finally:
        await engine.aclose()


async def test_a_good_stream_yields_text_then_finish_with_usage(upstream_url: str) -> None:
    chunks = await run(upstream_url, "ok")
    assert text_of(chunks) == "hello world"
    last = chunks[-1]
    assert (last.finish_reason, last.prompt_tokens, last.completion_tokens) == ("length", 3, 2)
    assert last.extra["upstream"] == upstream_url


async def test_the_request_carries_openai_fields_and_the_discovered_model(upstream_url: str) -> None:
    engine = UpstreamEngine(upstream_url, api_key="secret")
    try:
        chunks = await collect(
            engine.stream(
                GenerationRequest(prompt="echo-request", max_tokens=9, stop=("x",), seed=3, temperature=0.5)
            )
        )
        sent = json.loads(text_of(chunks))
        assert sent["model"] == "served-model"
        assert (sent["max_tokens"], sent["stop"], sent["seed"], sent["temperature"]) == (9, ["x"], 3, 0.5)
        assert sent["stream"] is True
        assert engine.context_length == 4096
    finally:
        await engine.aclose()


async def test_connection_refused_is_unavailable() -> None:
    with pytest.raises(EngineUnavailableError, match="unreachable") as caught:
        await run(f"http://127.0.0.1:{closed_port()}", "ok", model="m")
    assert caught.value.status == 503


@pytest.mark.parametrize(
    "status, error",
    [
        (500, UpstreamError),
        (502, UpstreamError),
        (503, EngineUnavailableError),
        (429, QueueFullError),
        (400, EngineRequestError),
        (401, UpstreamError),
    ],
)
async def test_http_statuses_map_to_engine_errors(upstream_url: str, status: int, error: type) -> None:
    with pytest.raises(error) as caught:
        await run(upstream_url, f"status-{status}")
    if status == 429:
        assert caught.value.retry_after == 7
    if status in (500, 400):
        assert f"failure {status}" in str(caught.value)


@pytest.mark.parametrize("case", ["malformed", "no-choices", "error-event"])
async def test_malformed_streams_are_upstream_errors(upstream_url: str, case: str) -> None:
    with pytest.raises(UpstreamError):
        await run(upstream_url, case)


async def test_a_stream_cut_short_is_a_lost_connection(upstream_url: str) -> None:
    with pytest.raises(UpstreamError, match="before the answer was complete") as caught:
        await run(upstream_url, "truncated")
    assert caught.value.connection_lost


async def test_silence_past_the_read_timeout_is_an_upstream_error(upstream_url: str) -> None:
    with pytest.raises(UpstreamError, match="timed out"):
        await run(upstream_url, "slow", read_timeout_s=0.3)


async def test_health_and_models(upstream_url: str) -> None:
    engine = UpstreamEngine(upstream_url)
    down = UpstreamEngine(f"http://127.0.0.1:{closed_port()}")
    try:
        assert await engine.ready()
        assert not await down.ready()
        assert [m["id"] for m in await engine.list_models()] == ["served-model"]
        assert engine.count_tokens("x" * 30) == 10  # no local tokenizer: the length estimate
    finally:
        await engine.aclose()
        await down.aclose()


async def test_build_engine_for_upstream_kind_serves_through_the_bound(upstream_url: str, tmp_path) -> None:
    engine = build_engine(
        EngineSettings(kind="upstream", upstream_urls=[upstream_url], model_id="gw"), tmp_path
    )
    try:
        assert await engine.ready()
        assert engine.model_id == "gw"
        assert text_of(await collect(engine.stream(GenerationRequest(prompt="ok")))) == "hello world"
    finally:
        await engine.aclose()


def test_build_engine_needs_upstream_urls(tmp_path) -> None:
    with pytest.raises(ConfigError, match="upstream_urls"):
        build_engine(EngineSettings(kind="upstream"), tmp_path)


def test_settings_refuse_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        EngineSettings(upstream_urls=["ftp://x"])


def test_build_engine_for_vllm_needs_a_model_dir(tmp_path) -> None:
    with pytest.raises(ConfigError, match="model_dir"):
        build_engine(EngineSettings(kind="vllm"), tmp_path)
