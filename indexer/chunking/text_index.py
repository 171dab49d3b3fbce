"""Byte-level facts about one file's text, computed once so that every later question costs O(1) or O(log n).

tree-sitter speaks UTF-8 byte offsets, so chunk boundaries are chosen in bytes and turned back into `str` only
when a chunk is cut out. The text is encoded with `surrogatepass`, which round-trips every Python string (lone
surrogates from a `surrogateescape` decode included), and a boundary never falls inside a character.

The budget counts non-whitespace characters (code points; whitespace is ASCII whitespace). A prefix sum over
the bytes (numpy, once per file) makes the count of any span a subtraction, so the merge step stays linear.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

__all__ = ["TextIndex"]

_ENCODING_ERRORS = "surrogatepass"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\f\v"  # besides "\n", which ends lines

# 1 for a byte that starts a non-whitespace character: not ASCII whitespace, not a UTF-8 continuation byte.
_COUNTS = np.ones(256, dtype=np.int64)
_COUNTS[list(b" \t\n\r\f\v")] = 0
_COUNTS[0x80:0xC0] = 0


class TextIndex:
    """The encoded text with its non-whitespace prefix sum and newline offsets."""

    __slots__ = ("_newlines", "_prefix", "_prefix_items", "data", "is_ascii", "size", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", _ENCODING_ERRORS)
        self.size = len(self.data)
        self.is_ascii = self.size == len(text)
        raw = np.frombuffer(self.data, dtype=np.uint8)
        prefix = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(_COUNTS[raw], out=prefix[1:])
        self._prefix = prefix
        # Indexing a memoryview yields a Python int directly: several times cheaper than a numpy scalar.
        self._prefix_items = memoryview(prefix)
        # A list, because bisect on a list is cheaper per call than numpy's scalar searchsorted.
        self._newlines: list[int] = np.flatnonzero(raw == 0x0A).tolist()

    def parse_bytes(self) -> bytes:
        """The bytes to hand tree-sitter: a leading BOM becomes spaces of the same length, so offsets hold."""
        if self.data.startswith(_BOM):
            return b"   " + self.data[3:]
        return self.data

    # --- sizes ---------------------------------------------------------------------------------------------
    def nws(self, start: int, end: int) -> int:
        """Non-whitespace characters in bytes [start, end)."""
        items = self._prefix_items
        return items[end] - items[start]

    def total_nws(self) -> int:
        return self._prefix_items[self.size]

    def cut_within_budget(self, start: int, budget: int) -> int:
        """The furthest offset `end > start` such that [start, end) holds at most `budget` non-whitespace
        characters (with the whitespace after the last of them). It is a character boundary: the byte at `end`
        starts the next non-whitespace character."""
        target = self._prefix_items[start] + budget
        end = int(np.searchsorted(self._prefix, target, side="right")) - 1
        return min(max(end, start + 1), self.size)

    # --- lines ---------------------------------------------------------------------------------------------
    def line_of(self, pos: int) -> int:
        """1-based number of the line holding the byte at `pos`."""
        return bisect_left(self._newlines, pos) + 1

    def line_ends_between(self, start: int, end: int) -> list[int]:
        """The offsets just after each newline in [start, end - 1): the line starts inside (start, end)."""
        lo = bisect_left(self._newlines, start)
        hi = bisect_left(self._newlines, end - 1)
        return [p + 1 for p in self._newlines[lo:hi]]

    def is_line_start(self, pos: int) -> bool:
        return pos == 0 or self.data[pos - 1] == 0x0A

    def indent_start(self, pos: int, floor: int) -> int:
        """The start of `pos`'s line if only whitespace precedes `pos` on it and that start is not before
        `floor`; `pos` otherwise."""
        data = self.data
        newline = data.rfind(b"\n", floor, pos)
        if newline >= 0:
            line_start = newline + 1
        elif floor == 0 or data[floor - 1] == 0x0A:
            line_start = floor
        else:
            return pos
        if line_start == pos or not data[line_start:pos].strip(_WHITESPACE):
            return line_start
        return pos

    # --- characters ----------------------------------------------------------------------------------------
    def char_start(self, pos: int) -> int:
        """`pos` moved back to the first byte of the character it falls in."""
        if self.is_ascii:
            return pos
        data = self.data
        while 0 < pos < self.size and 0x80 <= data[pos] < 0xC0:
            pos -= 1
        return pos

    def slice(self, start: int, end: int) -> str:
        if self.is_ascii:
            return self.text[start:end]
        return self.data[start:end].decode("utf-8", _ENCODING_ERRORS)
