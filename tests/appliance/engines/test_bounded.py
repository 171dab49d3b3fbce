"""The queue bound in front of the real CPU engine: past it, QueueFullError with a Retry-After estimate."""

from __future__ import annotations

import asyncio

import pytest

from appliance.engines import BoundedEngine, GenerationRequest, QueueFullError
from appliance.engines.transformers_engine import TransformersEngine
from tests.appliance.engines.conftest import LONG_PROMPT, collect

pytestmark = pytest.mark.slow

SHORT = GenerationRequest(prompt="def add(a, b):", max_tokens=3)


async def test_past_the_queue_bound_requests_are_refused_with_retry_after(
    cpu_engine: TransformersEngine,
) -> None:
    bounded = BoundedEngine(cpu_engine, max_concurrent=1, max_queue=1)
    running = bounded.stream(LONG_PROMPT)
    await anext(running)  # holds the only slot
    assert bounded.active == 1
    waiting = asyncio.create_task(collect(bounded.stream(SHORT)))
    await asyncio.sleep(0)  # let it run up to its wait for a slot
    assert bounded.queued == 1
    with pytest.raises(QueueFullError) as refused:
        await collect(bounded.stream(SHORT))
    assert refused.value.retry_after >= 1
    assert refused.value.status == 429
    assert bounded.rejected == 1
    await running.aclose()  # frees the slot: the queued request gets its turn
    chunks = await waiting
    assert chunks[-1].completion_tokens == 3
    assert (bounded.active, bounded.queued) == (0, 0)


async def test_a_request_that_waits_too_long_is_refused(cpu_engine: TransformersEngine) -> None:
    bounded = BoundedEngine(cpu_engine, max_concurrent=1, max_queue=4, queue_timeout_s=0.2)
    running = bounded.stream(LONG_PROMPT)
    await anext(running)
    try:
        with pytest.raises(QueueFullError, match="waited"):
            await collect(bounded.stream(SHORT))
        assert bounded.queued == 0
    finally:
        await running.aclose()


async def test_a_queued_request_whose_client_leaves_gives_up_its_place(
    cpu_engine: TransformersEngine,
) -> None:
    bounded = BoundedEngine(cpu_engine, max_concurrent=1, max_queue=1)
    running = bounded.stream(LONG_PROMPT)
    await anext(running)
    leaving = asyncio.create_task(collect(bounded.stream(SHORT)))
    await asyncio.sleep(0)
    assert bounded.queued == 1
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert bounded.queued == 0
    await running.aclose()
    chunks = await collect(bounded.stream(SHORT))  # the slot was released, not leaked
    assert chunks[-1].finish_reason is not None
    assert bounded.active == 0


async def test_requests_within_the_bound_run_concurrently(cpu_engine: TransformersEngine) -> None:
    bounded = BoundedEngine(cpu_engine, max_concurrent=2, max_queue=0)
    results = await asyncio.gather(collect(bounded.stream(SHORT)), collect(bounded.stream(SHORT)))
    assert [r[-1].completion_tokens for r in results] == [3, 3]
