"""Another CodeMoat as an upstream: the UpstreamEngine and the router talk to a real `codemoat serve` (the
gateway's own OpenAI-compatible API, bearer token, SSE) exactly as to vLLM or llama.cpp's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance.engines import EngineRequestError, GenerationRequest, UpstreamError
from appliance.engines.router import RouterEngine
from appliance.engines.upstream import UpstreamEngine
from tests.appliance.api.conftest import Home, Served, build_home, start_serve, stop_serve
from tests.appliance.engines.conftest import collect, text_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Home, Served]]:
    home = build_home(tmp_path_factory.mktemp("chained"))
    served = start_serve(home.path)
    try:
        yield home, served
    finally:
        stop_serve(served)


async def test_completion_and_chat_through_a_codemoat_upstream(chained: tuple[Home, Served]) -> None:
    home, served = chained
    engine = UpstreamEngine(served.url, api_key=home.admin_token)
    router = RouterEngine([engine])
    try:
        assert await router.ready(), "/v1/models with the token stands in for a /health route"
        completion = await collect(router.stream(GenerationRequest(prompt="def add(a, b):", max_tokens=6)))
        assert completion[-1].finish_reason in ("stop", "length")
        assert completion[-1].completion_tokens and completion[-1].completion_tokens <= 6
        chat = await collect(
            router.stream(
                GenerationRequest(
                    messages=({"role": "user", "content": "What is the capital of France?"},), max_tokens=24
                )
            )
        )
        assert text_of(chat).strip()
    finally:
        await router.aclose()


async def test_a_codemoat_upstream_refusing_the_token_or_the_request(chained: tuple[Home, Served]) -> None:
    home, served = chained
    refused = UpstreamEngine(served.url, api_key="not-a-token", model="smollm2-135m-instruct")
    admitted = UpstreamEngine(served.url, api_key=home.admin_token)
    try:
        with pytest.raises(UpstreamError, match="credentials"):
            await collect(refused.stream(GenerationRequest(prompt="x", max_tokens=2)))
        with pytest.raises(EngineRequestError, match="max_tokens"):
            await collect(admitted.stream(GenerationRequest(prompt="x", max_tokens=10**6)))
    finally:
        await refused.aclose()
        await admitted.aclose()
