"""Where context comes from, and how it is fetched within a latency budget.

`ContextSource` is the slice of the indexer's facade (`indexer.service.CodeIndex`) that prompt building uses;
`CodeIndex` satisfies it as is. Its calls are blocking (SQLite, Qdrant, an embedder), so they run in worker
threads, side by side, and are awaited only until the deadline: a stage that has not answered by then is
dropped from this prompt and recorded as `timeout` (its thread finishes on its own; the result is discarded)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

from indexer.resolution import OpenFile
from indexer.types import Hit, SearchFilter, SearchMode

log = logging.getLogger(__name__)

StageStatus = Literal["ok", "timeout", "error", "skipped"]


class SymbolRecord(Protocol):
    """A definition from the symbol table (`indexer.manifest.SymbolHit` has these fields)."""

    @property
    def repo(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start_line(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def container(self) -> str: ...
    @property
    def text(self) -> str: ...


class ContextSource(Protocol):
    def search(
        self, query: str, *, k: int = 10, mode: SearchMode = "hybrid", flt: SearchFilter = SearchFilter()
    ) -> list[Hit]: ...

    def search_near(
        self,
        query: str,
        *,
        open_file: OpenFile,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
    ) -> list[Hit]:
        """`search`, with the files the open file imports (and the module before its cursor) searched first."""
        ...

    def lookup_symbols(
        self,
        names: Sequence[str],
        *,
        repos: Sequence[str] | None = None,
        limit: int = 20,
        open_file: OpenFile | None = None,
    ) -> Sequence[SymbolRecord]: ...


@dataclass(frozen=True, slots=True)
class StageTiming:
    name: str
    ms: float
    status: StageStatus = "ok"
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ms": round(self.ms, 3), "status": self.status, "detail": self.detail}


class Stopwatch:
    """Times the synchronous stages of a build (trimming, selection, rendering)."""

    def __init__(self) -> None:
        self.stages: list[StageTiming] = []

    def stage(self, name: str) -> "_Stage":
        return _Stage(self, name)


class _Stage:
    def __init__(self, watch: Stopwatch, name: str) -> None:
        self._watch, self._name = watch, name

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._watch.stages.append(StageTiming(self._name, (time.perf_counter() - self._start) * 1000))


async def call_with_deadline(
    calls: Mapping[str, Callable[[], Any]],
    *,
    timeout_s: float,
    executor: Executor | None = None,
) -> tuple[dict[str, Any], list[StageTiming]]:
    """Run every call in a worker thread at once; return the results that arrived within `timeout_s` and one
    timing per call. A call that raises is logged and recorded as `error`; the others still count."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    finished_at: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return fn()
            finally:
                finished_at[name] = time.perf_counter()

        return run

    futures = {
        name: asyncio.ensure_future(loop.run_in_executor(executor, timed(name, fn)))
        for name, fn in calls.items()
    }
    if futures:
        await asyncio.wait(futures.values(), timeout=max(timeout_s, 0.0))
    results: dict[str, Any] = {}
    timings: list[StageTiming] = []
    budget = max(timeout_s, 0.0)
    for name, future in futures.items():
        # A call that finished after the deadline but before the loop got round to checking is late all the
        # same: the budget, not the event loop's scheduling, decides what is used.
        late = name in finished_at and finished_at[name] - started > budget
        if not future.done() or late:
            future.cancel()
            timings.append(
                StageTiming(
                    name,
                    (time.perf_counter() - started) * 1000,
                    "timeout",
                    f"no answer within {timeout_s * 1000:.0f} ms",
                )
            )
            continue
        ms = (finished_at.get(name, time.perf_counter()) - started) * 1000
        error = future.exception()
        if error is not None:
            log.warning("context stage %s failed: %s", name, error, exc_info=error)
            timings.append(StageTiming(name, ms, "error", f"{type(error).__name__}: {error}"))
            continue
        results[name] = result = future.result()
        timings.append(
            StageTiming(name, ms, "ok", f"{len(result)} results" if hasattr(result, "__len__") else "")
        )
    return results, timings


__all__ = ["ContextSource", "StageStatus", "StageTiming", "Stopwatch", "SymbolRecord", "call_with_deadline"]
