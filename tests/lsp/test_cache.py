"""The suggestion cache: exact repeats, typed-ahead remainders, and what must miss."""

from __future__ import annotations

from lsp.cache import CompletionCache

URI = "file:///w/a.py"
TEXT = "import os\n\ndef join_all(parts):\n    return \n\nprint(1)\n"
CURSOR = TEXT.index("return ") + len("return ")


def _cache() -> CompletionCache:
    cache = CompletionCache(capacity=8)
    cache.put(URI, TEXT, CURSOR, "os.path.join(*parts)", completion_id="c1", model="m")
    return cache


def test_same_state_is_served_whole() -> None:
    hit = _cache().get(URI, TEXT, CURSOR)
    assert hit is not None and hit.typed == 0 and hit.remainder == "os.path.join(*parts)"


def test_typing_the_suggestion_serves_the_rest() -> None:
    cache = _cache()
    for typed in range(1, len("os.path.join(*parts)")):
        text = TEXT[:CURSOR] + "os.path.join(*parts)"[:typed] + TEXT[CURSOR:]
        hit = cache.get(URI, text, CURSOR + typed)
        assert hit is not None, typed
        assert hit.remainder == "os.path.join(*parts)"[typed:]
        assert hit.entry.completion_id == "c1"


def test_typing_all_of_it_or_something_else_misses() -> None:
    cache = _cache()
    done = TEXT[:CURSOR] + "os.path.join(*parts)" + TEXT[CURSOR:]
    assert cache.get(URI, done, CURSOR + len("os.path.join(*parts)")) is None
    other = TEXT[:CURSOR] + "sep" + TEXT[CURSOR:]
    assert cache.get(URI, other, CURSOR + 3) is None


def test_a_change_elsewhere_near_the_cursor_misses() -> None:
    cache = _cache()
    changed_before = TEXT.replace("parts):", "pieces):")
    offset = changed_before.index("return ") + len("return ")
    assert cache.get(URI, changed_before, offset) is None
    changed_after = TEXT.replace("print(1)", "print(2)")
    assert cache.get(URI, changed_after, CURSOR) is None
    assert cache.get("file:///w/b.py", TEXT, CURSOR) is None


def test_lru_evicts_the_oldest() -> None:
    cache = CompletionCache(capacity=2)
    for i in range(3):
        text = f"x{i} = " + "\n"
        cache.put(URI, text, 5, "1", completion_id=f"c{i}", model="m")
    assert len(cache) == 2
    assert cache.get(URI, "x0 = \n", 5) is None
    assert cache.get(URI, "x2 = \n", 5) is not None


def test_empty_suggestions_are_remembered() -> None:
    cache = CompletionCache()
    cache.put(URI, TEXT, CURSOR, "", completion_id="c0", model="m")
    hit = cache.get(URI, TEXT, CURSOR)
    assert hit is not None and hit.remainder == ""
