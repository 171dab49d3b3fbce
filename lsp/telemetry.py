"""Acceptance telemetry, forwarded to the appliance (it never leaves the building).

Events, one per POST to `/v1/telemetry/completions`:
    {"event": "shown" | "accepted" | "rejected", "completion_id", "language", "model", "chars", "lines",
     "latency_ms", "from_cache", "client"}
- shown: a suggestion was returned to the editor (once per completion id, however often typed-ahead
  remainders of it are served from the cache);
- accepted: the editor ran the item's `codemoat.accepted` command (VS Code and Neovim 0.11+ do on accept) or
  sent `codemoat/telemetry` with event "accepted";
- rejected: another suggestion was shown in the same document while the previous one was neither accepted
  nor still being typed, or the client said so through `codemoat/telemetry`.
Sending happens in background tasks and never delays a suggestion. A 404 or 405 (a gateway without the
endpoint) switches telemetry off for the session without a word; other failures are logged only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Literal

from lsp.client import USER_AGENT, ApplianceClient
from lsp.errors import BridgeError

__all__ = ["Telemetry", "ShownSuggestion"]

Event = Literal["shown", "accepted", "rejected"]


@dataclass(slots=True)
class ShownSuggestion:
    completion_id: str
    language: str
    model: str
    text: str
    latency_ms: float
    from_cache: bool


class Telemetry:
    def __init__(
        self, client_of: Callable[[], ApplianceClient], *, enabled: bool, log: Callable[[str], None]
    ) -> None:
        self._client_of = client_of
        self.enabled = enabled
        self._log = log
        self._pending: dict[str, ShownSuggestion] = {}  # uri → shown, not yet accepted or rejected
        self._by_id: dict[str, ShownSuggestion] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts: dict[str, int] = {"shown": 0, "accepted": 0, "rejected": 0, "sent": 0}
        self.send_delay_s = 0.05
        self._scheduled = 0

    def shown(self, uri: str, suggestion: ShownSuggestion) -> None:
        previous = self._pending.get(uri)
        if previous is not None and previous.completion_id == suggestion.completion_id:
            return  # a typed-ahead remainder of the same suggestion
        if previous is not None:
            self._emit("rejected", previous)
        self._pending[uri] = suggestion
        self._by_id[suggestion.completion_id] = suggestion
        if len(self._by_id) > 512:
            self._by_id.pop(next(iter(self._by_id)))
        self._emit("shown", suggestion)

    def accepted(self, completion_id: str) -> None:
        suggestion = self._by_id.pop(completion_id, None)
        if suggestion is None:
            return
        for uri, pending in list(self._pending.items()):
            if pending.completion_id == completion_id:
                del self._pending[uri]
        self._emit("accepted", suggestion)

    def rejected(self, completion_id: str) -> None:
        suggestion = self._by_id.pop(completion_id, None)
        if suggestion is None:
            return
        for uri, pending in list(self._pending.items()):
            if pending.completion_id == completion_id:
                del self._pending[uri]
        self._emit("rejected", suggestion)

    def _emit(self, event: Event, suggestion: ShownSuggestion) -> None:
        self.counts[event] += 1
        if not self.enabled or not suggestion.completion_id:
            return
        body: dict[str, Any] = {
            "event": event,
            "completion_id": suggestion.completion_id,
            "language": suggestion.language,
            "model": suggestion.model,
            "chars": len(suggestion.text),
            "lines": suggestion.text.count("\n") + 1,
            "latency_ms": round(suggestion.latency_ms, 1),
            "from_cache": suggestion.from_cache,
            "client": USER_AGENT,
        }
        # Started a moment later, so that it never runs between a suggestion and its answer to the editor.
        asyncio.get_running_loop().call_later(self.send_delay_s, self._spawn, body)
        self._scheduled += 1

    def _spawn(self, body: dict[str, Any]) -> None:
        self._scheduled -= 1
        task = asyncio.get_running_loop().create_task(self._send(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, body: dict[str, Any]) -> None:
        try:
            status = await self._client_of().send_telemetry(body)
        except BridgeError as exc:
            self._log(f"CodeMoat telemetry not sent: {exc.message}")
            return
        if status in (404, 405):
            self.enabled = False
            self._log("CodeMoat: the appliance does not collect acceptance telemetry; not sending any more")
        elif status >= 400:
            self._log(f"CodeMoat telemetry refused with HTTP {status}")
        else:
            self.counts["sent"] += 1

    async def drain(self) -> None:
        if self._scheduled:
            await asyncio.sleep(self.send_delay_s)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
