"""Routing over two real OpenAI-compatible servers (the CPU model behind FastAPI, one process each), started
and restarted by the VllmSupervisor the way it runs `vllm serve` on GPU hosts."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.engines import GenerationRequest, UpstreamError, VllmSettings
from appliance.engines.router import RouterEngine, rendezvous_order
from appliance.engines.transformers_engine import TransformersEngine
from appliance.engines.upstream import UpstreamEngine
from appliance.engines.vllm_supervisor import VllmSupervisor
from tests.appliance.engines.conftest import collect, free_port_pair, text_of

pytestmark = pytest.mark.slow

SERVER = Path(__file__).with_name("upstream_server.py")
SHORT = GenerationRequest(prompt="def add(a, b):", max_tokens=4)


@pytest.fixture(scope="module")
def supervisor(
    cpu_engine: TransformersEngine, model_home: Path, tmp_path_factory
) -> Iterator[VllmSupervisor]:
    # cpu_engine first: it writes the fp32 cache the servers load from.
    settings = VllmSettings(
        command=[
            sys.executable,
            str(SERVER),
            "--port",
            "{port}",
            "--home",
            str(model_home),
            "--name",
            "{model_id}",
        ],
        replicas=2,
        base_port=free_port_pair(),
        restart_backoff_s=0.5,
        startup_timeout_s=300,
        stop_timeout_s=10,
        log_dir=tmp_path_factory.mktemp("upstream-logs"),
    )
    supervisor = VllmSupervisor(settings, model_id="smollm2-135m-instruct", home=model_home)
    supervisor.start()
    try:
        assert asyncio.run(supervisor.wait_until_ready(300)), "the upstream servers did not start"
        yield supervisor
    finally:
        supervisor.stop()


def make_router(supervisor: VllmSupervisor) -> RouterEngine:
    return RouterEngine([UpstreamEngine(url) for url in supervisor.urls], health_check_interval_s=0.3)


def served_by(chunks: list) -> str:
    return chunks[-1].extra["upstream"]


async def test_completion_and_chat_stream_through_a_real_upstream(
    supervisor: VllmSupervisor, cpu_engine: TransformersEngine
) -> None:
    router = make_router(supervisor)
    try:
        assert await router.ready()
        assert router.model_id == "smollm2-135m-instruct"
        assert router.context_length == cpu_engine.context_length
        remote = await collect(router.stream(SHORT))
        local = await collect(cpu_engine.stream(SHORT))
        assert text_of(remote) == text_of(local), "greedy output must not depend on where it ran"
        assert (remote[-1].prompt_tokens, remote[-1].completion_tokens) == (local[-1].prompt_tokens, 4)
        chat = await collect(
            router.stream(
                GenerationRequest(
                    messages=({"role": "user", "content": "What is the capital of France?"},), max_tokens=30
                )
            )
        )
        assert "Paris" in text_of(chat)
        assert len([c for c in chat if c.text]) > 3, "chat must stream in pieces"
    finally:
        await router.aclose()


async def test_affinity_keeps_a_key_on_one_upstream(supervisor: VllmSupervisor) -> None:
    router = make_router(supervisor)
    try:
        keys = ["repo-a/src/main.py", "repo-b/lib/util.go", "repo-c/app.ts", "repo-d/x.rs"]
        for key in keys:
            request = GenerationRequest(prompt="def add(a, b):", max_tokens=2, affinity_key=key)
            servers = {served_by(await collect(router.stream(request))) for _ in range(2)}
            assert servers == {rendezvous_order(key, supervisor.urls)[0]}
    finally:
        await router.aclose()


async def test_least_outstanding_spreads_concurrent_requests(supervisor: VllmSupervisor) -> None:
    router = make_router(supervisor)
    try:
        results = await asyncio.gather(*(collect(router.stream(SHORT)) for _ in range(4)))
        counts = {url: sum(served_by(r) == url for r in results) for url in supervisor.urls}
        assert counts == {url: 2 for url in supervisor.urls}
        assert all(u.outstanding == 0 for u in router.upstreams)
    finally:
        await router.aclose()


async def test_a_killed_upstream_is_routed_around_then_readmitted(supervisor: VllmSupervisor) -> None:
    router = make_router(supervisor)
    victim_url = supervisor.urls[0]
    key = next(
        k
        for k in (f"repo/file{i}.py" for i in range(100))
        if rendezvous_order(k, supervisor.urls)[0] == victim_url
    )
    keyed = GenerationRequest(prompt="def add(a, b):", max_tokens=3, affinity_key=key)
    try:
        assert served_by(await collect(router.stream(keyed))) == victim_url

        # Mid-stream on the victim: that request fails (text was sent, it cannot be replayed).
        in_flight = router.stream(GenerationRequest(prompt="def add(a, b):", max_tokens=64, affinity_key=key))
        await anext(in_flight)
        starts = supervisor.replicas[0].starts
        os.kill(supervisor.pids()[0], signal.SIGKILL)
        with pytest.raises(UpstreamError):
            async for _ in in_flight:
                pass
        assert victim_url not in router.healthy_urls(), "a dropped connection takes the upstream out"

        # Requests for the victim's key go to the other upstream while it is down, and succeed.
        chunks = await collect(router.stream(keyed))
        assert served_by(chunks) == supervisor.urls[1]
        assert chunks[-1].completion_tokens == 3

        # The supervisor restarts it; the router's probe re-admits it and the key goes home.
        assert await supervisor.wait_for_start(0, after=starts, timeout=300)
        await router.wait_until(lambda r: victim_url in r.healthy_urls(), timeout=60)
        assert served_by(await collect(router.stream(keyed))) == victim_url
        assert supervisor.replicas[0].restarts >= 1
    finally:
        await router.aclose()


async def test_a_request_to_a_dead_upstream_is_retried_on_another(supervisor: VllmSupervisor) -> None:
    dead = UpstreamEngine(
        f"http://127.0.0.1:{supervisor.replicas[0].port - 1000}", model="smollm2-135m-instruct"
    )
    live = UpstreamEngine(supervisor.urls[1])
    router = RouterEngine([dead, live], health_check_interval_s=60)
    try:
        key = next(
            k
            for k in (f"k{i}" for i in range(100))
            if rendezvous_order(k, [dead.url, live.url])[0] == dead.url
        )
        chunks = await collect(
            router.stream(GenerationRequest(prompt="def add(a, b):", max_tokens=2, affinity_key=key))
        )
        assert served_by(chunks) == live.url
        assert router.retries == 1
        assert router.healthy_urls() == [live.url]
    finally:
        await router.aclose()
