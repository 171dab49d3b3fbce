"""An LRU cache of suggestions keyed by the document state around the cursor, which also serves the rest of a
suggestion while the developer keeps typing it.

A suggestion is stored with the text just before the cursor (`prefix_tail`), the text just after it
(`suffix_head`) and the cursor offset. A later cursor position in the same document is served when the
characters typed since match the start of the suggestion and the text around them is unchanged: the answer is
the remainder. Exact repeats (same state) are the special case of zero characters typed."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["CompletionCache", "CachedSuggestion", "CacheHit"]


@dataclass(frozen=True, slots=True)
class CachedSuggestion:
    uri: str
    offset: int
    prefix_tail: str
    suffix_head: str
    text: str
    completion_id: str
    model: str


@dataclass(frozen=True, slots=True)
class CacheHit:
    entry: CachedSuggestion
    typed: int  # characters of the suggestion typed since it was made
    remainder: str


class CompletionCache:
    def __init__(self, capacity: int = 256, *, tail_chars: int = 256, head_chars: int = 128) -> None:
        self.capacity = capacity
        self.tail_chars = tail_chars
        self.head_chars = head_chars
        self._entries: OrderedDict[tuple[str, int, str, str], CachedSuggestion] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def put(
        self, uri: str, text: str, offset: int, suggestion: str, *, completion_id: str, model: str
    ) -> None:
        """Remember `suggestion` made for `text` with the cursor at `offset`. Empty suggestions are cached too:
        asking again for the same state would get the same nothing."""
        entry = CachedSuggestion(
            uri=uri,
            offset=offset,
            prefix_tail=text[max(0, offset - self.tail_chars) : offset],
            suffix_head=text[offset : offset + self.head_chars],
            text=suggestion,
            completion_id=completion_id,
            model=model,
        )
        key = (uri, offset, entry.prefix_tail, entry.suffix_head)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def get(self, uri: str, text: str, offset: int) -> CacheHit | None:
        """The newest entry whose suggestion continues what is in `text` at `offset`."""
        suffix_head = text[offset : offset + self.head_chars]
        for key in reversed(self._entries):
            entry = self._entries[key]
            if entry.uri != uri or entry.suffix_head != suffix_head:
                continue
            typed = offset - entry.offset
            if typed < 0 or typed > len(entry.text) or (typed == len(entry.text) and typed > 0):
                continue
            start = entry.offset
            if text[start : start + typed] != entry.text[:typed]:
                continue
            if text[max(0, start - self.tail_chars) : start] != entry.prefix_tail:
                continue
            self._entries.move_to_end(key)
            return CacheHit(entry=entry, typed=typed, remainder=entry.text[typed:])
        return None
