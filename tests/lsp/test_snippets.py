"""Sliding-window Jaccard snippet selection."""

from __future__ import annotations

from lsp.snippets import Candidate, SnippetSelector, as_wire, tokens_of

NOISE = "".join(f"unrelated_{i} = compute_{i}(alpha, beta)\n" for i in range(60))
RELEVANT = "def parse_header(line):\n    key, _, value = line.partition(':')\n    return key.strip(), value.strip()\n"


def test_tokens_are_identifiers() -> None:
    assert tokens_of("a.b(c_1, 2) + 'x'") == {"a", "b", "c_1", "x"}


def test_the_window_that_shares_the_cursor_vocabulary_wins() -> None:
    selector = SnippetSelector(window_lines=3, stride=1)
    doc = NOISE[: NOISE.index("unrelated_30")] + RELEVANT + NOISE[NOISE.index("unrelated_30") :]
    prefix = "for line in lines:\n    key, value = parse_header(line)\n    "
    chosen = selector.select(prefix, [Candidate("lib/http.py", doc, ("u", 1))], budget_chars=1000)
    assert len(chosen) == 1
    assert chosen[0].text == RELEVANT
    assert chosen[0].start_line == 30
    assert as_wire(chosen) == [{"path": "lib/http.py", "text": RELEVANT}]


def test_budget_and_order() -> None:
    selector = SnippetSelector(window_lines=3, stride=1)
    prefix = "key, value = parse_header(line)\n"
    strong = Candidate("a.py", RELEVANT, ("a", 1))
    weak = Candidate("b.py", "value = 1\nother = 2\nmore = 3\n", ("b", 1))
    both = selector.select(prefix, [weak, strong], budget_chars=10_000)
    assert [s.path for s in both] == ["a.py", "b.py"]
    assert both[0].score > both[1].score
    only_small = selector.select(prefix, [weak, strong], budget_chars=len(weak.text))
    assert [s.path for s in only_small] == ["b.py"]
    assert selector.select(prefix, [strong], budget_chars=0) == []


def test_unrelated_documents_are_left_out() -> None:
    selector = SnippetSelector()
    chosen = selector.select(
        "key, value = parse_header(line)\n", [Candidate("n.py", NOISE, ("n", 1))], 10_000
    )
    assert chosen == []


def test_cached_lines_follow_the_version() -> None:
    selector = SnippetSelector(window_lines=3, stride=1)
    prefix = "parse_header(line)"
    first = selector.select(prefix, [Candidate("a.py", "x = 1\n", ("a", 1))], 1000)
    assert first == []
    second = selector.select(prefix, [Candidate("a.py", RELEVANT, ("a", 2))], 1000)
    assert second and second[0].text == RELEVANT
