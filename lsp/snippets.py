"""Snippets from other files that look like the code around the cursor.

The text near the cursor is turned into a set of identifier tokens; every other candidate document is scanned
with a sliding window of lines, each window scored by Jaccard similarity against that set, and each document's
best window competes for a character budget. Per-line tokens are cached by document version, and the window
slides with counters, so a keystroke costs a pass over line token lists, not a re-tokenization."""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
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
    ) -> None:
        self.window_lines = window_lines
        self.stride = stride
        self.query_lines = query_lines
        self.min_score = min_score
        self._lines_cache: OrderedDict[Hashable, tuple[list[str], list[frozenset[str]]]] = OrderedDict()
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

    def _lines(self, candidate: Candidate) -> tuple[list[str], list[frozenset[str]]]:
        cached = self._lines_cache.get(candidate.cache_key)
        if cached is not None:
            self._lines_cache.move_to_end(candidate.cache_key)
            return cached
        lines = candidate.text.splitlines(keepends=True)
        tokens = [frozenset(_IDENTIFIER.findall(line)) for line in lines]
        self._lines_cache[candidate.cache_key] = (lines, tokens)
        while len(self._lines_cache) > self._cache_documents:
            self._lines_cache.popitem(last=False)
        return lines, tokens

    def _best_window(self, query: set[str], candidate: Candidate) -> Snippet | None:
        lines, line_tokens = self._lines(candidate)
        if not lines:
            return None
        size = min(self.window_lines, len(lines))
        window: Counter[str] = Counter()
        shared = 0  # distinct window tokens that are also in the query

        def add(tokens: frozenset[str]) -> None:
            nonlocal shared
            for token in tokens:
                window[token] += 1
                if window[token] == 1 and token in query:
                    shared += 1

        def remove(tokens: frozenset[str]) -> None:
            nonlocal shared
            for token in tokens:
                window[token] -= 1
                if window[token] == 0:
                    del window[token]
                    if token in query:
                        shared -= 1

        for tokens in line_tokens[:size]:
            add(tokens)
        best_score, best_start = _jaccard(shared, len(window), len(query)), 0
        start = 0
        while start + size < len(lines):
            step = min(self.stride, len(lines) - size - start)
            for i in range(step):
                remove(line_tokens[start + i])
                add(line_tokens[start + size + i])
            start += step
            score = _jaccard(shared, len(window), len(query))
            if score > best_score:
                best_score, best_start = score, start
        return Snippet(
            path=candidate.path,
            text="".join(lines[best_start : best_start + size]),
            score=best_score,
            start_line=best_start,
        )


def _jaccard(shared: int, window_size: int, query_size: int) -> float:
    union = window_size + query_size - shared
    return shared / union if union else 0.0


def as_wire(snippets: Sequence[Snippet]) -> list[dict[str, str]]:
    """The `snippets` field of a completion request."""
    return [{"path": s.path, "text": s.text} for s in snippets]
