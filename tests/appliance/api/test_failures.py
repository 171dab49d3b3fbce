"""Overload, engine failure, license gate and bugs: each answered in OpenAI's error shape, and the server stays up."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fastapi import APIRouter

from appliance.engines import build_engine
from appliance.engines.transformers_engine import TransformersEngine
from tests.appliance.api.conftest import Home, gateway_settings, metric_value, running_gateway

pytestmark = pytest.mark.slow

LONG = {
    "messages": [{"role": "user", "content": "Write a long essay about invoices."}],
    "max_tokens": 200,
    "stream": True,
}
SHORT = {"prompt": "x = ", "max_tokens": 1}


async def test_queue_full_is_429_with_retry_after(
    gateway_factory: Any, gateway_home: Home, cpu_engine: TransformersEngine
) -> None:
    async with (
        gateway_factory(max_concurrent=1, max_queue=0) as gw,
        gw.client(gateway_home.admin_token) as client,
    ):
        async with client.stream("POST", "/v1/chat/completions", json=LONG) as busy:
            assert busy.status_code == 200
            lines = busy.aiter_lines()  # kept referenced: a dropped iterator closes the connection
            await anext(lines)  # the first event is out: the only slot is taken
            refused = await client.post("/v1/completions", json=SHORT)
            refused_stream = await client.post("/v1/chat/completions", json=LONG)
        for response in (refused, refused_stream):
            assert response.status_code == 429, response.text
            assert int(response.headers["retry-after"]) >= 1
            error = response.json()["error"]
            assert (error["type"], error["code"]) == ("rate_limit_error", "queue_full")
            assert "busy" in error["message"]
        await cpu_engine.wait_idle()
        assert (await client.post("/v1/completions", json=SHORT)).status_code == 200


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there once the probe closes


async def test_engine_failure_is_503_with_a_reason_and_the_server_stays_up(gateway_home: Home) -> None:
    settings = gateway_settings(
        gateway_home.path,
        engine={"kind": "upstream", "upstream_urls": [dead_url()], "health_check_interval_s": 0.2},
    )
    engine = build_engine(settings.engine, settings.home)
    async with (
        running_gateway(settings, engine, open_index=False) as gw,
        gw.client(gateway_home.admin_token) as client,
    ):
        for _ in range(2):
            for path, body in (("/v1/completions", SHORT), ("/v1/chat/completions", LONG)):
                response = await client.post(path, json=body)
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert error["type"] == "service_unavailable" and error["code"] == "engine_unavailable"
                assert "upstream" in error["message"]
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["engine"]["ok"] is False
        assert (await client.get("/v1/models")).status_code == 200
    await engine.aclose()


async def test_a_bug_is_a_500_without_internals(gateway_home: Home, cpu_engine: TransformersEngine) -> None:
    router = APIRouter()

    @router.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("password=hunter2 in /srv/secret/config.py")

    settings = gateway_settings(gateway_home.path)
    async with (
        running_gateway(settings, cpu_engine, open_index=False, routers=[router]) as gw,
        gw.client(gateway_home.admin_token) as client,
    ):
        response = await client.get("/v1/broken")
        after = await client.get("/healthz")
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "internal_error")
    assert "reference" in error["message"]
    assert (
        "hunter2" not in response.text
        and "Traceback" not in response.text
        and "config.py" not in response.text
    )
    assert after.status_code == 200


async def test_every_error_family_maps_to_an_http_answer() -> None:
    """Each class of the packages' error hierarchies the gateway can meet has an OpenAI-shaped answer."""
    import appliance.auth.errors as auth_errors
    import appliance.engines.errors as engine_errors
    import appliance.prompts.errors as prompt_errors
    import appliance.state.errors as state_errors
    import indexer.errors as indexer_errors
    from appliance.api.errors import describe

    for module in (auth_errors, engine_errors, prompt_errors, state_errors, indexer_errors):
        for name in module.__all__:
            cls = getattr(module, name)
            if name == "QueueFullError":
                exc = cls("busy", retry_after=2.5)
            elif name == "UpstreamError":
                exc = cls("failed", upstream="http://x")
            else:
                exc = cls("a reason")
            shape = describe(exc)
            assert shape is not None, name
            assert 400 <= shape.status < 600 and shape.message and shape.type, name
            if name == "QueueFullError":
                assert shape.status == 429 and shape.headers() == {"Retry-After": "3"}


async def test_context_past_its_latency_budget_is_dropped_not_waited_for(
    gateway_factory: Any, gateway_home: Home
) -> None:
    overrides = {"completion_prompt": {"latency_budget_ms": 0}}
    async with gateway_factory(gateway=overrides) as gw, gw.client(gateway_home.admin_token) as client:
        response = await client.post(
            "/v1/completions",
            json={
                "prompt": "def report(lines):\n    return invoice_total(",
                "path": "x.py",
                "repo": "sample",
                "max_tokens": 2,
            },
        )
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    assert [c for c in response.json()["codemoat"]["citations"] if c["source"] != "editor"] == []
    assert metric_value(metrics, "codemoat_retrieval_failures_total") >= 1
