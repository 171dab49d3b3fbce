"""Properties of `parse_file` over real files: CPython's standard library (code nobody here wrote) and the
fixtures in all 14 grammar languages, at random budgets, as written and mangled (CRLF, no final newline, BOM,
truncated mid-token, foreign text spliced in).

For every output: the chunks concatenate to the input exactly; line numbers agree with the chunk texts and
follow on from chunk to chunk; no chunk holds more than `budget` non-whitespace characters."""

from __future__ import annotations

import sysconfig
from functools import cache
from itertools import pairwise
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.chunking import parse_file
from indexer.languages import detect_language
from indexer.types import ParsedFile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "languages"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
_WHITESPACE = frozenset(" \t\n\r\f\v")


@cache
def stdlib_files() -> list[Path]:
    files = sorted(
        p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts and p.stat().st_size < 150_000
    )
    assert len(files) > 1000, f"expected the CPython standard library under {STDLIB}"
    return files


FIXTURE_FILES = sorted(FIXTURES.iterdir())


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def non_whitespace(text: str) -> int:
    return sum(ch not in _WHITESPACE for ch in text)


def check(text: str, parsed: ParsedFile, budget: int) -> None:
    chunks = parsed.chunks
    assert "".join(c.text for c in chunks) == text
    if not text:
        assert chunks == ()
        return
    assert chunks[0].start_line == 1
    for chunk in chunks:
        assert chunk.text
        assert chunk.end_line == chunk.start_line + chunk.text[:-1].count("\n")
        assert non_whitespace(chunk.text) <= budget, (chunk.start_line, chunk.end_line, budget)
    for before, after in pairwise(chunks):
        assert after.start_line == before.end_line + (1 if before.text.endswith("\n") else 0)
    assert chunks[-1].end_line == 1 + text[:-1].count("\n")
    total_lines = text.count("\n") + 1
    for symbol in parsed.symbols:
        assert 1 <= symbol.start_line <= symbol.end_line <= total_lines


def mangle(text: str, how: str, cut: float, insert: str) -> str:
    if how == "crlf":
        return text.replace("\n", "\r\n")
    if how == "no-final-newline":
        return text.rstrip("\n")
    if how == "bom":
        return "\ufeff" + text
    if how == "truncated":
        return text[: int(len(text) * cut)]
    if how == "spliced":
        at = int(len(text) * cut)
        return text[:at] + insert + text[at:]
    return text


manglings = st.sampled_from(["as-is", "as-is", "crlf", "no-final-newline", "bom", "truncated", "spliced"])
budgets = st.one_of(st.integers(20, 400), st.integers(400, 4000))
inserts = st.text(min_size=1, max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, 10**9),
    budget=budgets,
    how=manglings,
    cut=st.floats(0, 1),
    insert=inserts,
)
def test_stdlib_files(index: int, budget: int, how: str, cut: float, insert: str):
    files = stdlib_files()
    text = mangle(read(files[index % len(files)]), how, cut, insert)
    parsed = parse_file(text, "python", budget=budget)
    check(text, parsed, budget)


@settings(max_examples=200, deadline=None)
@given(
    path=st.sampled_from(FIXTURE_FILES),
    budget=budgets,
    how=manglings,
    cut=st.floats(0, 1),
    insert=inserts,
)
def test_fixture_files(path: Path, budget: int, how: str, cut: float, insert: str):
    text = mangle(read(path), how, cut, insert)
    language = detect_language(path.name)
    assert language is not None
    parsed = parse_file(text, language, budget=budget)
    check(text, parsed, budget)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8"), max_size=400) | st.text("ab \n\r\t{}()#/*\"'", max_size=400),
    language=st.sampled_from(["python", "javascript", "c", "ruby", "bash", "markdown", None]),
    budget=st.integers(1, 60),
    window_lines=st.integers(1, 10),
)
def test_arbitrary_text(text: str, language: str | None, budget: int, window_lines: int):
    parsed = parse_file(text, language, budget=budget, window_lines=window_lines)
    check(text, parsed, budget)
