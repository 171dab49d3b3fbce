"""Snippets from other files that look like the code around the cursor.

The text near the cursor is turned into a set of identifier tokens; every other candidate document is scanned
with a sliding window of lines, each window scored by Jaccard similarity against that set, and each document's
best window competes for a character budget. Each document's windows and their identifier sets are built once
per document version, so a keystroke costs one C-level set intersection per window, not a re-tokenization."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

__all__ = ["Candidate", "Snippet", "SnippetSelector", "tokens_of"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokens_of(text: str) -> set[str]:
    return set(_IDENTIFIER.findall(text))


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str
    text: str
    # Changes whenever the text does (uri + LSP version); lets the per-line token cache survive keystrokes.
    cache_key: Hashable


@dataclass(frozen=True, slots=True)
class Snippet:
    path: str
    text: str
    score: float
    start_line: int  # 0-based


class SnippetSelector:
    def __init__(
        self,
        *,
        window_lines: int = 20,
        stride: int = 5,
        query_lines: int = 20,
        min_score: float = 0.05,
        cache_documents: int = 64,
        max_windows: int = 400,
    ) -> None:
        self.window_lines = window_lines
        self.stride = stride
        self.query_lines = query_lines
        self.min_score = min_score
        self.max_windows = max_windows
        self._windows_cache: OrderedDict[Hashable, _Windows] = OrderedDict()
        self._cache_documents = cache_documents

    def query_tokens(self, prefix: str) -> set[str]:
        # The last lines before the cursor say best what the developer is writing now.
        tail = prefix.rsplit("\n", self.query_lines)
        return tokens_of("\n".join(tail[-self.query_lines :]))

    def select(self, prefix: str, candidates: Iterable[Candidate], budget_chars: int) -> list[Snippet]:
        """Best window of each candidate, highest Jaccard first, as many as fit in `budget_chars`."""
        if budget_chars <= 0:
            return []
        query = self.query_tokens(prefix)
        if not query:
            return []
        best: list[Snippet] = []
        for candidate in candidates:
            snippet = self._best_window(query, candidate)
            if snippet is not None and snippet.score >= self.min_score:
                best.append(snippet)
        best.sort(key=lambda s: (-s.score, s.path, s.start_line))
        chosen: list[Snippet] = []
        used = 0
        for snippet in best:
            if used + len(snippet.text) > budget_chars:
                continue
            chosen.append(snippet)
            used += len(snippet.text)
        return chosen

    def _windows(self, candidate: Candidate) -> _Windows:
        cached = self._windows_cache.get(candidate.cache_key)
        if cached is not None:
            self._windows_cache.move_to_end(candidate.cache_key)
            return cached
        lines = candidate.text.splitlines(keepends=True)
        size = min(self.window_lines, len(lines))
        # Huge files get a longer stride so that one file never costs more than `max_windows` set intersections.
        stride = max(self.stride, -(-max(0, len(lines) - size) // self.max_windows))
        line_tokens = [frozenset(_IDENTIFIER.findall(line)) for line in lines]
        starts = list(range(0, max(1, len(lines) - size + 1), stride))
        if lines and starts[-1] != max(0, len(lines) - size):
            starts.append(max(0, len(lines) - size))
        sets = [frozenset().union(*line_tokens[start : start + size]) for start in starts] if lines else []
        windows = _Windows(lines=lines, size=size, starts=starts, sets=sets)
        self._windows_cache[candidate.cache_key] = windows
        while len(self._windows_cache) > self._cache_documents:
            self._windows_cache.popitem(last=False)
        return windows

    def _best_window(self, query: set[str], candidate: Candidate) -> Snippet | None:
        windows = self._windows(candidate)
        if not windows.sets:
            return None
        query_size = len(query)
        best_score, best_index = -1.0, 0
        for index, tokens in enumerate(windows.sets):
            # Intersection runs over the smaller set in C: the per-keystroke cost is one pass over the windows.
            shared = len(query & tokens) if len(tokens) > query_size else len(tokens & query)
            score = _jaccard(shared, len(tokens), query_size)
            if score > best_score:
                best_score, best_index = score, index
        start = windows.starts[best_index]
        return Snippet(
            path=candidate.path,
            text="".join(windows.lines[start : start + windows.size]),
            score=best_score,
            start_line=start,
        )


@dataclass(frozen=True, slots=True)
class _Windows:
    """A document cut into overlapping windows of lines, with each window's identifier set (per version)."""

    lines: list[str]
    size: int
    starts: list[int]
    sets: list[frozenset[str]]


def _jaccard(shared: int, window_size: int, query_size: int) -> float:
    union = window_size + query_size - shared
    return shared / union if union else 0.0


def as_wire(snippets: Sequence[Snippet]) -> list[dict[str, str]]:
    """The `snippets` field of a completion request."""
    return [{"path": s.path, "text": s.text} for s in snippets]
