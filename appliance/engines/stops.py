"""Stop sequences over streamed text: decide how much of the text decoded so far is safe to emit.

Text is held back while its tail could still become a stop sequence (a stop may span several tokens), and
while it ends in an incomplete UTF-8 character (a byte-level tokenizer decodes half a character as U+FFFD).
The stop sequence itself is never emitted."""

from __future__ import annotations

from dataclasses import dataclass

REPLACEMENT_CHAR = "\ufffd"


@dataclass(frozen=True, slots=True)
class StopScan:
    end: int  # text[:end] may be emitted
    stopped: bool  # a stop sequence starts at `end`


class StopMatcher:
    def __init__(self, stops: tuple[str, ...] | list[str]) -> None:
        self._stops = tuple(dict.fromkeys(s for s in stops if s))
        self._longest = max((len(s) for s in self._stops), default=0)

    def scan(self, text: str, emitted: int = 0, *, final: bool = False) -> StopScan:
        """`emitted`: how much of `text` was already emitted (a stop cannot start before it, since a partial
        match there would have been held back). `final`: no more text will come, so release everything."""
        start = max(0, emitted - self._longest)
        first = min((i for i in (text.find(s, start) for s in self._stops) if i >= 0), default=-1)
        if first >= 0:
            return StopScan(first, True)
        if final:
            return StopScan(len(text), False)
        end = len(text) - self._partial_tail(text)
        while end > emitted and text[end - 1] == REPLACEMENT_CHAR:
            end -= 1
        return StopScan(max(end, emitted), False)

    def _partial_tail(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of some stop sequence."""
        for length in range(min(self._longest - 1, len(text)), 0, -1):
            tail = text[-length:]
            if any(stop.startswith(tail) for stop in self._stops):
                return length
        return 0
