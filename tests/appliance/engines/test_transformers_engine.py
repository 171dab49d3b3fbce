"""The embedded CPU engine with the real bundled SmolLM2: streaming, stops, limits, cancellation, chat,
sampling, fairness and the fp32 cache."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from appliance.engines import (
    EngineRequestError,
    EngineSettings,
    EngineUnavailableError,
    GenerationRequest,
    ModelFilesError,
)
from appliance.engines.transformers_engine import TransformersEngine
from tests.appliance.engines.conftest import LONG_PROMPT, collect, text_of
from tests.conftest import FAST_ENGINE

pytestmark = pytest.mark.slow

CODE_PROMPT = GenerationRequest(prompt="def fibonacci(n):\n", max_tokens=48)


async def test_streams_text_token_by_token(cpu_engine: TransformersEngine) -> None:
    arrivals: list[float] = []
    chunks = []
    async for chunk in cpu_engine.stream(CODE_PROMPT):
        arrivals.append(time.perf_counter())
        chunks.append(chunk)
    pieces = [c for c in chunks if c.text and c.finish_reason is None]
    assert len(pieces) >= 10, "each token should arrive as its own chunk"
    assert arrivals[-1] - arrivals[0] > 0.05, "chunks must arrive over time, not all at the end"
    last = chunks[-1]
    assert last.finish_reason in ("stop", "length")
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert last.prompt_tokens == cpu_engine.count_tokens(CODE_PROMPT.prompt)
    assert 10 <= last.completion_tokens <= CODE_PROMPT.max_tokens
    assert "fibonacci" in text_of(chunks)


async def test_max_tokens_caps_the_completion(cpu_engine: TransformersEngine) -> None:
    chunks = await collect(cpu_engine.stream(GenerationRequest(prompt="def fibonacci(n):\n", max_tokens=5)))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].completion_tokens == 5
    assert 0 < len(text_of(chunks)) <= 5 * 16


async def test_stop_sequence_spanning_tokens_ends_the_text_before_it(cpu_engine: TransformersEngine) -> None:
    reference = await collect(cpu_engine.stream(CODE_PROMPT))
    full = text_of(reference)
    pieces = [c.text for c in reference if c.text]
    # A stop made of the end of one token and the start of the next: it can only match across tokens.
    i = next(i for i in range(2, len(pieces) - 1) if len(pieces[i]) >= 2 and len(pieces[i + 1]) >= 2)
    stop = pieces[i][-2:] + pieces[i + 1][:2]
    chunks = await collect(
        cpu_engine.stream(GenerationRequest(prompt=CODE_PROMPT.prompt, max_tokens=48, stop=(stop,)))
    )
    assert chunks[-1].finish_reason == "stop"
    assert text_of(chunks) == full[: full.index(stop)]
    assert stop not in text_of(chunks)


async def test_earliest_of_several_stops_wins(cpu_engine: TransformersEngine) -> None:
    full = text_of(await collect(cpu_engine.stream(CODE_PROMPT)))
    late, early = full[30:34], full[12:15]
    assume_distinct = full.index(early) < full.index(late)
    assert assume_distinct
    chunks = await collect(
        cpu_engine.stream(GenerationRequest(prompt=CODE_PROMPT.prompt, max_tokens=48, stop=(late, early)))
    )
    assert text_of(chunks) == full[: full.index(early)]


async def test_cancelling_stops_generation_within_one_token(cpu_engine: TransformersEngine) -> None:
    uncancelled = await collect(cpu_engine.stream(LONG_PROMPT))
    assert uncancelled[-1].completion_tokens == LONG_PROMPT.max_tokens, (
        "the reference run must run to its limit"
    )
    stream = cpu_engine.stream(LONG_PROMPT)
    before = cpu_engine.tokens_generated
    received = 0
    async for chunk in stream:
        received += 1
        if received == 5:
            break
    await stream.aclose()
    at_cancel = cpu_engine.tokens_generated
    await cpu_engine.wait_idle()
    after = cpu_engine.tokens_generated
    assert after - at_cancel <= 1, f"{after - at_cancel} tokens were generated after the cancel"
    assert after - before < uncancelled[-1].completion_tokens // 2


async def test_cancelling_the_consumer_task_stops_generation(cpu_engine: TransformersEngine) -> None:
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _ in cpu_engine.stream(LONG_PROMPT):
            first_chunk.set()

    task = asyncio.create_task(consume())
    await first_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    at_cancel = cpu_engine.tokens_generated
    await cpu_engine.wait_idle()
    assert cpu_engine.tokens_generated - at_cancel <= 1
    assert cpu_engine.active_requests == 0


async def test_chat_messages_go_through_the_chat_template(cpu_engine: TransformersEngine) -> None:
    question = "What is the capital of France?"
    chunks = await collect(
        cpu_engine.stream(GenerationRequest(messages=({"role": "user", "content": question},), max_tokens=40))
    )
    answer = text_of(chunks)
    assert "Paris" in answer
    assert "<|im_end|>" not in answer and "<|im_start|>" not in answer
    # The template wraps the question in roles and adds SmolLM's default system prompt.
    assert chunks[-1].prompt_tokens > cpu_engine.count_tokens(question) + 10


async def test_sampling_is_reproducible_with_a_seed(cpu_engine: TransformersEngine) -> None:
    def request(seed: int) -> GenerationRequest:
        return GenerationRequest(prompt="Once upon a time", max_tokens=8, temperature=1.0, seed=seed)

    first = text_of(await collect(cpu_engine.stream(request(7))))
    again = text_of(await collect(cpu_engine.stream(request(7))))
    others = {text_of(await collect(cpu_engine.stream(request(seed)))) for seed in (8, 9)}
    assert first == again
    assert len(others | {first}) > 1


async def test_concurrent_requests_take_turns(cpu_engine: TransformersEngine) -> None:
    long_started = asyncio.Event()
    order: list[str] = []

    async def long() -> None:
        async for chunk in cpu_engine.stream(LONG_PROMPT):
            long_started.set()
        order.append("long done")

    async def short() -> None:
        await long_started.wait()
        chunks = await collect(cpu_engine.stream(GenerationRequest(prompt="def add(a, b):", max_tokens=4)))
        assert chunks[-1].completion_tokens == 4
        order.append("short done")

    await asyncio.gather(long(), short())
    assert order == ["short done", "long done"], "a short request must not wait for a long one to finish"


async def test_concurrent_requests_decoded_together_match_their_lone_runs(
    cpu_engine: TransformersEngine,
) -> None:
    # Different prompt lengths, so the batch pads rows, and different max_tokens, so rows leave mid-way.
    requests = [
        GenerationRequest(prompt="def add(a, b):", max_tokens=6),
        GenerationRequest(prompt="import os\n\ndef list_files(root):\n", max_tokens=12),
        GenerationRequest(prompt="class Stack:\n    def __init__(self):", max_tokens=9),
    ]
    alone = [text_of(await collect(cpu_engine.stream(r))) for r in requests]
    together = await asyncio.gather(*(collect(cpu_engine.stream(r)) for r in requests))
    assert [text_of(chunks) for chunks in together] == alone
    assert [chunks[-1].completion_tokens for chunks in together] == [6, 12, 9]


async def test_prompt_over_the_context_length_is_refused(cpu_engine: TransformersEngine) -> None:
    with pytest.raises(EngineRequestError, match="context length"):
        await collect(cpu_engine.stream(GenerationRequest(prompt="x", max_tokens=cpu_engine.context_length)))


@pytest.mark.parametrize(
    "request_, field",
    [
        (GenerationRequest(), "prompt"),
        (GenerationRequest(prompt="a", messages=({"role": "user", "content": "b"},)), "prompt"),
        (GenerationRequest(messages=({"role": "user"},)), "messages"),
        (GenerationRequest(prompt="a", max_tokens=0), "max_tokens"),
        (GenerationRequest(prompt="a", temperature=-1), "temperature"),
        (GenerationRequest(prompt="", max_tokens=3), "prompt"),
    ],
)
async def test_malformed_requests_name_the_field(
    cpu_engine: TransformersEngine, request_: GenerationRequest, field: str
) -> None:
    with pytest.raises(EngineRequestError) as caught:
        await collect(cpu_engine.stream(request_))
    assert caught.value.param == field


async def test_fp32_cache_is_written_once_and_reused(
    cpu_engine: TransformersEngine, model_home: Path
) -> None:
    assert cpu_engine.load_source == "gguf-converted"
    # Beside the cache: the record that the bundled GGUF matched its pinned hash (appliance.engines.bundled).
    entries = [p for p in (model_home / "models").iterdir() if not p.name.endswith(".verified.json")]
    assert len(entries) == 1 and not entries[0].name.startswith("."), "one complete cache, no staging left"
    (cache,) = entries
    written = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    again = TransformersEngine(EngineSettings(**FAST_ENGINE), model_home)
    try:
        await again.wait_until_ready(120)
        assert again.load_source == "gguf-cache"
        assert again.load_seconds < cpu_engine.load_seconds / 4
        assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == written
        same = text_of(await collect(again.stream(GenerationRequest(prompt="def add(a, b):", max_tokens=8))))
        ref = text_of(
            await collect(cpu_engine.stream(GenerationRequest(prompt="def add(a, b):", max_tokens=8)))
        )
        assert same == ref, "the fp32 copy must generate exactly what the converted model did"
    finally:
        await again.aclose()


async def test_a_missing_model_fails_readiness_with_a_clear_error(tmp_path: Path) -> None:
    engine = TransformersEngine(EngineSettings(**FAST_ENGINE, model_path=tmp_path / "nope.gguf"), tmp_path)
    try:
        with pytest.raises(ModelFilesError, match="does not exist"):
            await engine.wait_until_ready(60)
        assert not await engine.ready()
        with pytest.raises(EngineUnavailableError):
            await collect(engine.stream(GenerationRequest(prompt="x")))
    finally:
        await engine.aclose()
