"""From a cursor position to a suggestion: cache, supersede, debounce, context, request, deadline.

Shared by inline completion and the completion fallback. The order matters for latency: a cache hit (the
developer typing what was suggested, or the same state again) answers before any waiting; otherwise the older
request for the same document is dropped, the adaptive debounce waits for the burst to end, and the appliance
gets as long as it needs (lsp/timeouts.py, from `timeout_ms` up to `max_timeout_ms`) from the keystroke; later
than that nothing is shown, and the first time that happens the developer is told, with the new wait."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from lsp.cache import CompletionCache
from lsp.client import ApplianceClient, CompletionQuery
from lsp.config import BridgeConfig
from lsp.debounce import AdaptiveDebounce
from lsp.documents import DocumentTracker, language_of, relative_path
from lsp.errors import BridgeError, SuggestionTooSlow
from lsp.repo import repository_of
from lsp.reporting import ProblemReporter
from lsp.snippets import SnippetSelector, as_wire
from lsp.telemetry import ShownSuggestion, Telemetry
from lsp.timeouts import AdaptiveTimeout

__all__ = ["Completer", "Suggestion", "BridgeStats"]


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    completion_id: str
    model: str
    language: str
    from_cache: bool


@dataclass
class BridgeStats:
    """Counters served by the `codemoat/stats` request (benchmarks and tests read them)."""

    requests: int = 0  # suggestion requests from the editor
    sent: int = 0  # completion requests sent to the appliance
    cache_hits: int = 0
    shown: int = 0  # non-empty suggestions returned
    superseded: int = 0
    cancelled_upstream: int = (
        0  # appliance requests abandoned mid-flight ($/cancelRequest, superseded, deadline)
    )
    timeouts: int = 0
    errors: int = 0
    disabled_language: int = 0
    overhead_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2048))
    upstream_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2048))

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        data["overhead_ms"] = list(self.overhead_ms)
        data["upstream_ms"] = list(self.upstream_ms)
        return data


class Completer:
    def __init__(
        self,
        *,
        config: BridgeConfig,
        client_of: Callable[[], ApplianceClient],
        tracker: DocumentTracker,
        reporter: ProblemReporter,
        telemetry: Telemetry,
        roots_of: Callable[[], Sequence[str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_of = client_of
        self.tracker = tracker
        self.reporter = reporter
        self.telemetry = telemetry
        self._roots_of = roots_of
        self._clock = clock
        self.cache = CompletionCache()
        self.selector = SnippetSelector()
        self.stats = BridgeStats()
        self._inflight: dict[str, asyncio.Task[object]] = {}
        self._superseded: set[asyncio.Task[object]] = set()
        self.configure(config)

    def configure(self, config: BridgeConfig) -> None:
        self.config = config
        self.debounce = AdaptiveDebounce(config.debounce_ms, config.debounce_max_ms)
        self.timeout = AdaptiveTimeout(config.timeout_ms, config.max_timeout_ms)
        self._slow_reported = False

    def keystroke(self, document: TextDocument) -> None:
        at = self.tracker.changed(document)
        self.debounce.keystroke(document.uri, at)

    async def suggest(
        self, document: TextDocument, position: types.Position, *, invoked: bool
    ) -> Suggestion | None:
        started = time.perf_counter()
        self.stats.requests += 1
        config = self.config
        language = language_of(document.uri, document.language_id)
        if not config.language_enabled(language):
            self.stats.disabled_language += 1
            return None
        text = document.source
        offset = document.offset_at_position(position)

        hit = self.cache.get(document.uri, text, offset)
        if hit is not None:
            self.stats.cache_hits += 1
            suggestion = Suggestion(hit.remainder, hit.entry.completion_id, hit.entry.model, language, True)
            self._shown(document.uri, suggestion, started)
            self.stats.overhead_ms.append((time.perf_counter() - started) * 1000)
            return suggestion

        task = asyncio.current_task()
        previous = self._inflight.get(document.uri)
        if previous is not None and not previous.done() and previous is not task:
            self._superseded.add(previous)
            previous.cancel()
            self.stats.superseded += 1
        if task is not None:
            self._inflight[document.uri] = task
        version = document.version
        waited = 0.0
        in_flight = False
        try:
            if not invoked:
                wait = self.debounce.remaining(document.uri, self._clock())
                if wait > 0:
                    before = time.perf_counter()
                    await asyncio.sleep(wait)
                    waited = time.perf_counter() - before
                    if document.version != version:
                        # The developer typed on; the editor asks again for the new state.
                        self.stats.superseded += 1
                        return None
            request = self._request(document, text, offset, language, config)
            client = self._client_of()
            waited_for = self.timeout.current_ms
            deadline = asyncio.get_running_loop().time() + waited_for / 1000 - (time.perf_counter() - started)
            in_flight = True
            sent_at = time.perf_counter()
            self.stats.sent += 1
            async with asyncio.timeout_at(deadline):
                completion = await client.complete(request)
            in_flight = False
            upstream = time.perf_counter() - sent_at
        except TimeoutError:
            self.stats.timeouts += 1
            self.stats.cancelled_upstream += int(in_flight)
            self._too_slow(waited_for)
            return None
        except BridgeError as exc:
            self.stats.errors += 1
            self.reporter.report(exc)
            return None
        except asyncio.CancelledError:
            self.stats.cancelled_upstream += int(in_flight)
            if task is not None and task in self._superseded:
                # Superseded by a newer keystroke: answer the old request with nothing rather than an error.
                self._superseded.discard(task)
                task.uncancel()
                return None
            raise
        finally:
            if task is not None and self._inflight.get(document.uri) is task:
                del self._inflight[document.uri]

        self.reporter.recovered()
        self.timeout.observed(upstream * 1000, completion.expected_ms)
        self.cache.put(
            document.uri, text, offset, completion.text, completion_id=completion.id, model=completion.model
        )
        suggestion = Suggestion(completion.text, completion.id, completion.model, language, False)
        self._shown(document.uri, suggestion, started)
        self.stats.upstream_ms.append(upstream * 1000)
        self.stats.overhead_ms.append((time.perf_counter() - started - waited - upstream) * 1000)
        return suggestion

    def _too_slow(self, waited_ms: float) -> None:
        """Say once per session that suggestions are slower than the wait, and how long it waits from now."""
        next_ms = self.timeout.timed_out()
        if self._slow_reported:
            return
        self._slow_reported = True
        self.reporter.report(
            SuggestionTooSlow(
                f"CodeMoat: a suggestion did not arrive within {waited_ms / 1000:.1f} s (a CPU appliance can take "
                f"longer); suggestions now wait up to {next_ms / 1000:.1f} s, adjusting to how fast the appliance "
                f"answers (at most codemoat.maxTimeoutMs = {self.config.max_timeout_ms / 1000:.0f} s)"
            )
        )

    def _request(
        self, document: TextDocument, text: str, offset: int, language: str, config: BridgeConfig
    ) -> CompletionQuery:
        roots = self._roots_of()
        prefix = text[max(0, offset - config.prefix_chars) : offset]
        suffix = text[offset : offset + config.suffix_chars]
        candidates = self.tracker.candidates(document.uri, roots)
        snippets = self.selector.select(prefix, candidates, config.snippet_chars)
        fs_path = to_fs_path(document.uri) if document.uri.startswith("file:") else None
        return CompletionQuery(
            prefix=prefix,
            suffix=suffix,
            path=relative_path(document.uri, roots),
            language=language,
            repo=repository_of(fs_path, roots[0] if roots else None),
            snippets=as_wire(snippets),
            max_tokens=config.max_tokens,
        )

    def _shown(self, uri: str, suggestion: Suggestion, started: float) -> None:
        if not suggestion.text.strip():
            return
        self.stats.shown += 1
        self.telemetry.shown(
            uri,
            ShownSuggestion(
                completion_id=suggestion.completion_id,
                language=suggestion.language,
                model=suggestion.model,
                text=suggestion.text,
                latency_ms=(time.perf_counter() - started) * 1000,
                from_cache=suggestion.from_cache,
            ),
        )
