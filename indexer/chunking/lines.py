"""Splitting by lines: the fallback for text without a grammar or that fails to parse, and the last resort
for a syntax node that is too large and has no children (a long string, a block comment).

Boundaries fall at line starts. A window closes when the next line would take it over the budget of
non-whitespace characters, or past `max_lines` lines when a limit is given. A single line over the budget (a
minified bundle, a data blob) is cut at the budget, wherever that falls, so no chunk ever exceeds it.
"""

from __future__ import annotations

from indexer.chunking.text_index import TextIndex

__all__ = ["LineSplitter", "split_lines"]


class LineSplitter:
    """Accumulates chunk start offsets; `starts[-1]` is the start of the open chunk."""

    def __init__(self, index: TextIndex, budget: int, max_lines: int | None = None) -> None:
        self.index = index
        self.budget = budget
        self.max_lines = max_lines
        self.starts: list[int] = [0]

    def cut(self, pos: int) -> None:
        """Close the open chunk at `pos` (nothing happens if that would leave it empty)."""
        if self.starts[-1] < pos < self.index.size:
            self.starts.append(pos)

    def split(self, start: int, end: int) -> None:
        """Place boundaries inside [start, end), continuing the open chunk (it may begin before `start`)."""
        index, budget, max_lines, starts = self.index, self.budget, self.max_lines, self.starts
        previous = start  # the last place the open chunk could have been closed within budget
        first_line = index.line_of(starts[-1])
        for line_end in (*index.line_ends_between(start, end), end):
            chunk_start = starts[-1]
            fits = index.nws(chunk_start, line_end) <= budget
            if fits and (max_lines is None or index.line_of(line_end - 1) - first_line < max_lines):
                previous = line_end
                continue
            if previous > chunk_start:
                self.cut(previous)
            while index.nws(starts[-1], line_end) > budget:  # one line over the budget: cut inside it
                before = len(starts)
                self.cut(index.cut_within_budget(starts[-1], budget))
                if len(starts) == before:  # cannot happen for budget >= 1; never loop forever
                    break
            previous = line_end
            first_line = index.line_of(starts[-1])


def split_lines(index: TextIndex, budget: int, max_lines: int) -> list[int]:
    """Chunk start offsets for a whole file split into line windows."""
    splitter = LineSplitter(index, budget, max_lines)
    splitter.split(0, index.size)
    return splitter.starts
