"""Fixtures for the bridge's end-to-end tests: one real appliance per test session (the CPU model loads once),
a fresh `codemoat-lsp` per test."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.lsp.harness import Appliance, Bridge, serve_available, start_appliance, start_bridge


@pytest.fixture(scope="session")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    if not serve_available():
        pytest.skip(
            "`codemoat serve` is not in this build yet (the gateway issue): end-to-end bridge tests skipped"
        )
    running = start_appliance(tmp_path_factory.mktemp("appliance-home"))
    yield running
    running.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
async def open_bridge(workspace: Path) -> AsyncIterator[Callable[..., Awaitable[Bridge]]]:
    """Start bridges with given options; all are shut down (cleanly, through the protocol) after the test."""
    started: list[Bridge] = []

    async def start(**kwargs) -> Bridge:
        bridge = await start_bridge(workspace, **kwargs)
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        await bridge.close()
