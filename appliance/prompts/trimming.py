"""Fit the text around the cursor into token budgets: the prefix keeps its end, the suffix keeps its start, both
cut at line boundaries (a character cut only when a single line is over the budget by itself).

Lines are counted one at a time from the cursor outwards, so the work is proportional to the budget, not to
the file, and with `cached_counter` a line is tokenized once across keystrokes. The returned count is the sum
of the kept lines' counts: BPE merges across a newline are lost that way, so it is an upper bound in practice,
not an exact count (the prompt builder counts the rendered prompt whole at the end)."""

from __future__ import annotations

import functools
from typing import Callable

TokenCounter = Callable[[str], int]


def cached_counter(count: TokenCounter, *, maxsize: int = 65536, max_chars: int = 512) -> TokenCounter:
    """Memoize token counts of short texts (lines): prompt building counts the lines around the cursor, and
    consecutive keystrokes count the same lines again. Long texts (whole prompts) pass through uncached, so the
    cache's memory stays bounded (about `maxsize` × `max_chars`). Thread-safe."""
    cached = functools.lru_cache(maxsize=maxsize)(count)

    def counter(text: str) -> int:
        return cached(text) if len(text) <= max_chars else count(text)

    return counter


def trim_prefix(text: str, budget: int, count: TokenCounter, *, anchor_lines: int = 1) -> tuple[str, int]:
    """The longest end of `text` made of whole lines within `budget` tokens, and its (line-summed) count.

    `anchor_lines` > 1 moves the cut forward to a line number that is a multiple of it, so that while the user
    types on one line the prefix keeps the same first line and the engine's prefix cache keeps hitting."""
    if budget <= 0 or not text:
        return "", 0
    lines = text.splitlines(keepends=True)
    costs: list[int] = []
    used = 0
    first = len(lines)
    while first > 0:
        cost = count(lines[first - 1])
        if used + cost > budget:
            break
        costs.append(cost)
        used += cost
        first -= 1
    if first == 0:
        return text, used
    if first == len(lines):  # even the cursor's line is over the budget
        return _tail_chars(lines[-1], budget, count)
    if anchor_lines > 1 and first % anchor_lines:
        first = min(first + anchor_lines - first % anchor_lines, len(lines) - 1)
    kept_costs = costs[: len(lines) - first]  # costs run from the last line backwards
    return "".join(lines[first:]), sum(kept_costs)


def trim_suffix(text: str, budget: int, count: TokenCounter) -> tuple[str, int]:
    """The longest start of `text` made of whole lines within `budget` tokens, and its (line-summed) count."""
    if budget <= 0 or not text:
        return "", 0
    lines = text.splitlines(keepends=True)
    used = 0
    end = 0
    while end < len(lines):
        cost = count(lines[end])
        if used + cost > budget:
            break
        used += cost
        end += 1
    if end == 0:
        return _head_chars(lines[0], budget, count)
    return "".join(lines[:end]), used


def _tail_chars(text: str, budget: int, count: TokenCounter) -> tuple[str, int]:
    """Binary search on the number of characters kept from the end."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[len(text) - mid :]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    kept = text[len(text) - lo :] if lo else ""
    return kept, count(kept) if kept else 0


def _head_chars(text: str, budget: int, count: TokenCounter) -> tuple[str, int]:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    kept = text[:lo]
    return kept, count(kept) if kept else 0


__all__ = ["TokenCounter", "cached_counter", "trim_prefix", "trim_suffix"]
