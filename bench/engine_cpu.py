"""The embedded CPU engine: model load (cold GGUF conversion vs the cached fp32 copy), greedy decode speed,
time to first token, throughput at 1 and 4 concurrent requests, and tokens generated after a cancel.

    .venv/bin/python bench/engine_cpu.py [--repeat 5] [--threads 2]

Runs in a fresh temporary data directory, so the first load is the cold conversion."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, percentile  # noqa: E402

from appliance.engines import EngineSettings, GenerationRequest  # noqa: E402
from appliance.engines.bundled import SMOLLM2_135M  # noqa: E402
from appliance.engines.model_files import load_model  # noqa: E402
from appliance.engines.transformers_engine import TransformersEngine  # noqa: E402

CODE = GenerationRequest(prompt="import os\n\ndef list_python_files(root):\n", max_tokens=32)
FILE_PREFIX = Path(__file__).read_text()[:2000]  # ~500 tokens of real code as a long completion prompt


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_loads(home: Path, repeat: int) -> dict[str, float]:
    import transformers  # noqa: F401  imported first so the timings below are the load alone

    cold = load_model(EngineSettings(kind="transformers", model="smollm2-135m"), home).seconds
    cached = [
        load_model(EngineSettings(kind="transformers", model="smollm2-135m"), home).seconds
        for _ in range(repeat)
    ]
    return {"load_cold_s": cold, "load_cached_median_s": statistics.median(cached)}


async def one(engine: TransformersEngine, request: GenerationRequest) -> tuple[float, float, int]:
    """(time to first token, total seconds, completion tokens)."""
    started = time.perf_counter()
    first = None
    async for chunk in engine.stream(request):
        if first is None:
            first = time.perf_counter() - started
        if chunk.finish_reason is not None:
            return first or 0.0, time.perf_counter() - started, chunk.completion_tokens or 0
    raise RuntimeError("stream ended without a finish")


async def measure_single(engine: TransformersEngine, repeat: int) -> dict[str, float]:
    await engine.wait_until_ready(600)
    await one(engine, CODE)  # warm-up
    cpu = cpu_seconds()
    single = [await one(engine, CODE) for _ in range(repeat)]
    cpu = cpu_seconds() - cpu
    long_prompt = GenerationRequest(prompt=FILE_PREFIX, max_tokens=1)
    ttft_long = [(await one(engine, long_prompt))[0] for _ in range(repeat)]
    overruns = []
    for _ in range(repeat):
        stream = engine.stream(GenerationRequest(prompt=FILE_PREFIX[:400], max_tokens=200))
        for _ in range(3):
            await anext(stream)
        await stream.aclose()
        at_cancel = engine.tokens_generated
        await engine.wait_idle()
        overruns.append(engine.tokens_generated - at_cancel)
    return {
        "decode_tokens_per_s": statistics.median(t / s for _, s, t in single),
        "cpu_ms_per_token": cpu * 1000 / sum(t for _, _, t in single),
        "ttft_short_ms": statistics.median(f for f, _, _ in single) * 1000,
        "ttft_long_prompt_ms": statistics.median(ttft_long) * 1000,
        "long_prompt_tokens": engine.count_tokens(FILE_PREFIX),
        "tokens_after_cancel_max": max(overruns),
    }


async def measure_concurrency(engine: TransformersEngine, clients: int) -> dict[str, float]:
    await engine.wait_until_ready(600)
    await one(engine, CODE)
    cpu, started = cpu_seconds(), time.perf_counter()
    done = await asyncio.gather(*(one(engine, CODE) for _ in range(clients)))
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    tokens = sum(t for _, _, t in done)
    return {
        "tokens_per_s": tokens / wall,
        "cpu_ms_per_token": cpu * 1000 / tokens,
        "ttft_p50_ms": percentile([f for f, _, _ in done], 50) * 1000,
        "latency_p50_s": percentile([s for _, s, _ in done], 50),
    }


def run_engine(home: Path, threads: int, max_batch: int, job) -> dict[str, float]:  # type: ignore[no-untyped-def]
    engine = TransformersEngine(
        EngineSettings(kind="transformers", model="smollm2-135m", threads=threads, max_batch=max_batch), home
    )
    try:
        return asyncio.run(job(engine))
    finally:
        asyncio.run(engine.aclose())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        results: dict[str, object] = measure_loads(home, args.repeat)
        results.update(run_engine(home, args.threads, 8, lambda e: measure_single(e, args.repeat)))
        for clients in (1, 4):
            for max_batch in (1, 8):  # one at a time vs decoded together, side by side
                measured = run_engine(
                    home, args.threads, max_batch, lambda e: measure_concurrency(e, clients)
                )
                results[f"c{clients}_batch{max_batch}"] = measured
    results.update(
        machine=describe(),
        model=SMOLLM2_135M.file_name,
        threads=args.threads,
        load_average=[load_before, os.getloadavg()[0]],
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
