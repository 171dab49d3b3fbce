"""Usage events (one per served request), buffered in memory and written in batches off the request path."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import insert

from appliance.state.db import Database
from appliance.state.errors import DatabaseError
from appliance.state.models import UsageEvent, utcnow

log = logging.getLogger("codemoat.usage")


@dataclass(frozen=True, slots=True)
class UsageRecord:
    kind: str
    model: str
    user_id: int | None
    token_id: int | None
    status: int = 200
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    repo: str | None = None
    language: str | None = None
    stream: bool = False
    created: datetime = field(default_factory=utcnow)


class UsageRecorder:
    """`record` is cheap and never fails the request; `run` flushes every `interval` seconds or as soon as a
    batch fills, and `aclose` writes what is left."""

    def __init__(self, db: Database, *, interval: float = 1.0, batch_size: int = 500) -> None:
        self._db = db
        self._interval = interval
        self._batch_size = batch_size
        self._pending: list[UsageRecord] = []
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def record(self, item: UsageRecord) -> None:
        self._pending.append(item)
        if len(self._pending) >= self._batch_size:
            self._full.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-recorder")

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._full.wait(), self._interval)
            except TimeoutError:
                pass
            self._full.clear()
            await self.flush()

    async def flush(self) -> int:
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            await asyncio.to_thread(self._write, batch)
        except DatabaseError as exc:
            # Usage is bookkeeping: losing a batch must not take serving down; say so in the log.
            log.warning("dropped %d usage events: %s", len(batch), exc)
            return 0
        self.written += len(batch)
        return len(batch)

    def _write(self, batch: list[UsageRecord]) -> None:
        with self._db.session() as session:
            session.execute(insert(UsageEvent), [asdict(item) for item in batch])

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()
