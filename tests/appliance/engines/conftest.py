"""The real CPU model, loaded once per test session into a fresh data directory (so the first load is the
cold GGUF conversion and the cache test can compare it with a cached load)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from appliance.engines import EngineSettings, GenerationChunk, GenerationRequest
from appliance.engines.transformers_engine import TransformersEngine
from tests.conftest import FAST_ENGINE


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-home")


@pytest.fixture(scope="session")
def cpu_engine(model_home: Path) -> Iterator[TransformersEngine]:
    engine = TransformersEngine(EngineSettings(**FAST_ENGINE), model_home)
    asyncio.run(engine.wait_until_ready(600))
    yield engine
    asyncio.run(engine.aclose())


async def collect(stream: AsyncIterator[GenerationChunk]) -> list[GenerationChunk]:
    return [chunk async for chunk in stream]


def text_of(chunks: list[GenerationChunk]) -> str:
    return "".join(c.text for c in chunks)


def free_port_pair() -> int:
    """A port p such that p and p + 1 are both free now (the supervisor gives replica i base_port + i)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports")


LONG_PROMPT = GenerationRequest(
    messages=({"role": "user", "content": "Write a long, detailed essay about the history of computing."},),
    max_tokens=64,
)
