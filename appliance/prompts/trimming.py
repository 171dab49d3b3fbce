"""Fit the text around the cursor into token budgets: the prefix keeps its end, the suffix keeps its start, both
cut at line boundaries (a character cut only when a single line is over the budget by itself).

Lines are counted one at a time from the cursor outwards, so the work is proportional to the budget, not to
the file. Counting lines separately over-estimates slightly (BPE merges across a newline are lost), which keeps
the result within the budget; the kept text is then counted whole and the returned count is exact."""

from __future__ import annotations

from typing import Callable

TokenCounter = Callable[[str], int]


def trim_prefix(text: str, budget: int, count: TokenCounter, *, anchor_lines: int = 1) -> tuple[str, int]:
    """The longest end of `text` made of whole lines within `budget` tokens, and its token count.

    `anchor_lines` > 1 moves the cut forward to a line number that is a multiple of it, so that while the user
    types on one line the prefix keeps the same first line and the engine's prefix cache keeps hitting."""
    if budget <= 0 or not text:
        return "", 0
    lines = text.splitlines(keepends=True)
    used = 0
    first = len(lines)
    while first > 0:
        cost = count(lines[first - 1])
        if used + cost > budget:
            break
        used += cost
        first -= 1
    if first == 0:
        total = count(text)
        if total <= budget:
            return text, total
    if first == len(lines):  # even the cursor's line is over the budget
        return _tail_chars(lines[-1], budget, count)
    if anchor_lines > 1 and first % anchor_lines:
        first = min(first + anchor_lines - first % anchor_lines, len(lines) - 1)
    kept = "".join(lines[first:])
    total = count(kept)
    while total > budget and first < len(lines) - 1:
        first += 1
        kept = "".join(lines[first:])
        total = count(kept)
    if total > budget:
        return _tail_chars(kept, budget, count)
    return kept, total


def trim_suffix(text: str, budget: int, count: TokenCounter) -> tuple[str, int]:
    """The longest start of `text` made of whole lines within `budget` tokens, and its token count."""
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
    if end == len(lines):
        total = count(text)
        if total <= budget:
            return text, total
    if end == 0:
        return _head_chars(lines[0], budget, count)
    kept = "".join(lines[:end])
    total = count(kept)
    while total > budget and end > 1:
        end -= 1
        kept = "".join(lines[:end])
        total = count(kept)
    if total > budget:
        return _head_chars(kept, budget, count)
    return kept, total


def _tail_chars(text: str, budget: int, count: TokenCounter) -> tuple[str, int]:
    """Binary search on the number of characters kept from the end."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[len(text) - mid:]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    kept = text[len(text) - lo:] if lo else ""
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


__all__ = ["TokenCounter", "trim_prefix", "trim_suffix"]
