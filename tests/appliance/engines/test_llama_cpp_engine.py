"""The llama.cpp engine on real GGUF files: SmolLM2 for the behaviour (fast), Qwen2.5-Coder for what only a
code model shows (fill-in-the-middle with the suffix, its control tokens kept out of the answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.engines import EngineSettings, GenerationRequest
from appliance.engines.bundled import QWEN_CODER_1_5B, locate_part
from appliance.engines.errors import ContextLengthExceeded, EngineUnavailableError, ModelFilesError
from appliance.engines.llama_cpp_engine import LlamaCppEngine
from appliance.prompts.families import PromptParts, get_family
from appliance.prompts.languages import get_language
from tests.appliance.engines.conftest import collect, text_of

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    settings = EngineSettings(kind="llama_cpp", model="smollm2-135m", context_length=512, prefill_chunk=32)
    engine = LlamaCppEngine(settings, tmp_path_factory.mktemp("llama-home"))
    asyncio.run(engine.wait_until_ready(300))
    yield engine
    asyncio.run(engine.aclose())


async def test_generates_greedily_and_reports_counts(small: LlamaCppEngine) -> None:
    first = await collect(small.stream(GenerationRequest(prompt=PROMPT, max_tokens=8)))
    again = await collect(small.stream(GenerationRequest(prompt=PROMPT, max_tokens=8)))
    assert text_of(first) == text_of(again) and text_of(first).strip()
    last = first[-1]
    assert last.finish_reason == "length" and last.completion_tokens == 8
    assert last.prompt_tokens == small.count_tokens(PROMPT)


async def test_a_repeated_prefix_is_not_computed_again(small: LlamaCppEngine) -> None:
    head = "def total(items):\n    result = 0\n    for item in items:\n        result += item.price\n"
    await collect(small.stream(GenerationRequest(prompt=head + "    return", max_tokens=2)))
    computed = small.prompt_tokens_computed
    await collect(small.stream(GenerationRequest(prompt=head + "    return result", max_tokens=2)))
    # Only the changed tail (a few tokens) was evaluated; the head came from a context's cache.
    assert small.prompt_tokens_computed - computed <= 4


async def test_the_next_keystroke_finds_the_cache_of_a_request_stopped_early(small: LlamaCppEngine) -> None:
    # The gateway stops a completion once its line is done and answers the editor at once; the next
    # keystroke arrives while that context is still letting go, and must still find its cache.
    head = "".join(f"value_{i} = compute({i}, scale=2)\n" for i in range(24))
    await collect(small.stream(GenerationRequest(prompt=head + "other = 1\n", max_tokens=2)))  # fill ctx0
    stream = small.stream(GenerationRequest(prompt=head + "total = ", max_tokens=64))
    async for _ in stream:
        break
    await stream.aclose()
    computed = small.prompt_tokens_computed
    await collect(small.stream(GenerationRequest(prompt=head + "total = v", max_tokens=2)))
    assert small.prompt_tokens_computed - computed <= 8


async def test_stop_sequences_end_the_answer_and_are_not_sent(small: LlamaCppEngine) -> None:
    free = text_of(await collect(small.stream(GenerationRequest(prompt=PROMPT, max_tokens=12))))
    word = free.split()[1] if len(free.split()) > 1 else free.split()[0]
    chunks = await collect(small.stream(GenerationRequest(prompt=PROMPT, max_tokens=12, stop=(word,))))
    assert word not in text_of(chunks) and chunks[-1].finish_reason == "stop"


async def test_chat_uses_the_model_template(small: LlamaCppEngine) -> None:
    chunks = await collect(
        small.stream(GenerationRequest(messages=({"role": "user", "content": "Say hello."},), max_tokens=16))
    )
    text = text_of(chunks)
    assert text.strip() and "<|im_start|>" not in text and "<|im_end|>" not in text


async def test_a_prompt_over_the_context_is_refused_with_openais_code(small: LlamaCppEngine) -> None:
    with pytest.raises(ContextLengthExceeded) as refused:
        await collect(small.stream(GenerationRequest(prompt="word " * 600, max_tokens=8)))
    assert refused.value.code == "context_length_exceeded" and refused.value.param == "max_tokens"


async def test_closing_the_stream_stops_the_generation(small: LlamaCppEngine) -> None:
    before = small.tokens_generated
    stream = small.stream(GenerationRequest(prompt=PROMPT, max_tokens=200))
    async for _ in stream:
        break
    await stream.aclose()
    await asyncio.sleep(0.5)
    assert small.tokens_generated - before < 20


async def test_suspend_unloads_and_resume_loads_again(tmp_path: Path) -> None:
    engine = LlamaCppEngine(
        EngineSettings(kind="llama_cpp", model="smollm2-135m", context_length=256), tmp_path
    )
    try:
        await engine.wait_until_ready(300)
        engine.suspend("license STOPPED: the lease expired")
        for _ in range(100):
            if not await engine.ready():
                break
            await asyncio.sleep(0.05)
        with pytest.raises(EngineUnavailableError, match="the lease expired"):
            await collect(engine.stream(GenerationRequest(prompt=PROMPT, max_tokens=2)))
        engine.resume()
        await engine.wait_until_ready(300)
        assert text_of(await collect(engine.stream(GenerationRequest(prompt=PROMPT, max_tokens=2))))
        assert engine.loads == 2
    finally:
        await engine.aclose()


async def test_a_file_that_is_not_gguf_is_refused_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a model")
    engine = LlamaCppEngine(EngineSettings(kind="llama_cpp", model_path=bad), tmp_path)
    try:
        with pytest.raises(ModelFilesError, match="llama.cpp cannot load"):
            await engine.wait_until_ready(60)
    finally:
        await engine.aclose()


@pytest.mark.skipif(not all(locate_part(p) for p in QWEN_CODER_1_5B.parts), reason="Qwen parts not installed")
async def test_qwen_fills_in_the_middle_and_keeps_its_tokens_out(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    engine = LlamaCppEngine(
        EngineSettings(kind="llama_cpp", context_length=1024, contexts=1),
        tmp_path_factory.mktemp("qwen-home"),
    )
    try:
        await engine.wait_until_ready(600)
        family = get_family("qwen2.5-coder")
        parts = PromptParts(
            "def add(a, b):\n    return ",
            "\n\n\nassert add(2, 3) == 5\n",
            "calc.py",
            get_language("python"),
            "calc",
        )
        chunks = await collect(
            engine.stream(
                GenerationRequest(prompt=family.render(parts), max_tokens=16, stop=family.stop_tokens)
            )
        )
        text = text_of(chunks)
        assert text.strip().startswith("a + b"), text
        assert not any(token in text for token in family.stop_tokens)
    finally:
        await engine.aclose()
