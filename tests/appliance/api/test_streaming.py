"""Server-sent events in OpenAI's format, streamed and non-streamed answers that agree, and a client that goes
away mid-stream stopping the generation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from appliance.engines.transformers_engine import TransformersEngine
from tests.appliance.api.conftest import Gateway, Home, metric_value

pytestmark = pytest.mark.slow

ESSAY = {
    "messages": [{"role": "user", "content": "Write a long essay about the history of invoices."}],
    "max_tokens": 300,
    "stream": True,
}


@pytest.fixture
async def gateway(gateway_factory: Any) -> AsyncIterator[Gateway]:
    async with gateway_factory() as gw:
        yield gw


async def sse_events(response: Any) -> list[Any]:
    """The `data:` payloads of a stream, parsed ("[DONE]" kept as is); fails on any other kind of line."""
    events: list[Any] = []
    async for line in response.aiter_lines():
        if not line:
            continue
        assert line.startswith("data: "), line
        payload = line[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


async def test_chat_stream_format(gateway: Gateway, gateway_home: Home) -> None:
    body = {
        "messages": [{"role": "user", "content": "What does invoice_total return?"}],
        "max_tokens": 6,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with (
        gateway.client(gateway_home.admin_token) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "ttft;dur=" in response.headers["server-timing"]
        events = await sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    with_choices = [c for c in chunks if c["choices"]]
    finishes = [c["choices"][0]["finish_reason"] for c in with_choices]
    assert finishes[-1] in ("stop", "length") and all(f is None for f in finishes[:-1])
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in with_choices)
    assert text
    usage = [c for c in chunks if c.get("usage")]
    assert len(usage) == 1 and usage[0]["usage"]["completion_tokens"] <= 6
    assert (
        usage[0]["usage"]["total_tokens"]
        == usage[0]["usage"]["prompt_tokens"] + usage[0]["usage"]["completion_tokens"]
    )
    sources = [c for c in chunks if "codemoat" in c]
    assert len(sources) == 1 and sources[0]["choices"] == []
    citations = sources[0]["codemoat"]["citations"]
    assert citations and any(c["path"] == "billing/invoice.py" for c in citations)


async def test_plain_completion_stream_matches_the_non_streamed_answer(
    gateway: Gateway, gateway_home: Home
) -> None:
    body = {"prompt": "def fibonacci(n):\n", "max_tokens": 12, "temperature": 0}
    async with gateway.client(gateway_home.admin_token) as client:
        whole = (await client.post("/v1/completions", json=body)).json()
        async with client.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
            events = await sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"text_completion"}
    streamed = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert streamed == whole["choices"][0]["text"] and streamed
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert "codemoat" not in whole  # a plain completion: no repository context


async def test_code_completion_stream_matches_the_non_streamed_answer(
    gateway: Gateway, gateway_home: Home
) -> None:
    body = {
        "prompt": "from billing.invoice import invoice_total\n\n\ndef report(lines):\n",
        "suffix": "\n\nprint(report([]))\n",
        "path": "billing/report.py",
        "repo": "sample",
        "language": "python",
        "max_tokens": 40,
    }
    async with gateway.client(gateway_home.admin_token) as client:
        whole = (await client.post("/v1/completions", json=body)).json()
        async with client.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
            events = await sse_events(response)
    streamed = "".join(c["choices"][0]["text"] for c in events[:-1] if c["choices"])
    assert streamed == whole["choices"][0]["text"]
    assert "print(report([]))" not in streamed  # never repeats the text after the cursor
    info = [c["codemoat"] for c in events[:-1] if "codemoat" in c]
    assert info and info[0]["citations"] == whole["codemoat"]["citations"]
    assert any(
        c["path"] == "billing/invoice.py" and c["source"] in ("symbol", "retrieval")
        for c in whole["codemoat"]["citations"]
    )


async def test_client_disconnect_stops_the_generation(
    gateway: Gateway, gateway_home: Home, cpu_engine: TransformersEngine
) -> None:
    before = cpu_engine.tokens_generated
    async with (
        gateway.client(gateway_home.admin_token) as client,
        client.stream("POST", "/v1/chat/completions", json=ESSAY) as response,
    ):
        assert response.status_code == 200
        seen = 0
        async for line in response.aiter_lines():
            if '"content"' in line and '"content":""' not in line:
                seen += 1
            if seen == 3:
                break
        # Leaving the block closed the connection mid-stream.
    await cpu_engine.wait_idle()  # returns once the engine let go of the request: cancelled, or finished
    generated = cpu_engine.tokens_generated - before
    assert 3 <= generated < 100, generated  # 300 were asked for
    async with gateway.client(gateway_home.admin_token) as client:
        metrics = (await client.get("/metrics")).text
    assert (
        metric_value(
            metrics, "codemoat_generations_total", {"endpoint": "chat", "finish_reason": "cancelled"}
        )
        == 1
    )
    assert metric_value(metrics, "codemoat_generations_in_flight") == 0


async def test_client_leaving_a_non_streamed_completion_stops_it(
    gateway: Gateway, gateway_home: Home, cpu_engine: TransformersEngine
) -> None:
    """An editor drops a superseded request by closing it: the generation must not run on to max_tokens."""
    before = cpu_engine.tokens_generated
    body = {"prompt": "Once upon a time, in a land of invoices,", "max_tokens": 300}
    async with gateway.client(gateway_home.admin_token) as client:
        request = asyncio.ensure_future(client.post("/v1/completions", json=body))
        await wait_for_metric(gateway, gateway_home, "codemoat_generations_in_flight", 1)
        request.cancel()  # closes the connection
        with pytest.raises(asyncio.CancelledError):
            await request
    await cpu_engine.wait_idle()
    assert cpu_engine.tokens_generated - before < 100
    await wait_for_metric(
        gateway,
        gateway_home,
        "codemoat_generations_total",
        1,
        {"endpoint": "completion", "finish_reason": "cancelled"},
    )


async def wait_for_metric(
    gateway: Gateway, home: Home, name: str, value: float, labels: dict[str, str] | None = None
) -> None:
    """Poll /metrics until a sample reaches `value` (the server's own account of what it is doing)."""
    async with gateway.client(home.admin_token) as client:
        for _ in range(2000):
            if metric_value((await client.get("/metrics")).text, name, labels) >= value:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"{name}{labels or ''} never reached {value}")
