"""Inputs at the edges: empty and blank files, syntax errors, CRLF, no final newline, BOM, odd Unicode, huge
lines, deep nesting, languages without a grammar, bad arguments, concurrent callers."""

from __future__ import annotations

import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indexer.chunking import parse_file
from indexer.languages import detect_language
from tests.indexer.test_chunking_exact import PYTHON

FIXTURES = Path(__file__).parent.parent / "fixtures" / "languages"


def layout(parsed):
    return [(c.start_line, c.end_line, c.symbol) for c in parsed.chunks]


def joined(parsed) -> str:
    return "".join(c.text for c in parsed.chunks)


@pytest.mark.parametrize("language", ["python", "go", "markdown", None])
def test_empty_file_has_no_chunks(language):
    parsed = parse_file("", language)
    assert parsed.chunks == ()
    assert parsed.symbols == ()
    assert parsed.language == (language or "text")


@pytest.mark.parametrize("language", ["python", "rust", "markdown", None])
def test_whitespace_only_file_is_one_chunk(language):
    text = "\n\n   \n\t\r\n  "
    parsed = parse_file(text, language)
    assert [(c.text, c.start_line, c.end_line, c.symbol) for c in parsed.chunks] == [(text, 1, 5, "")]


def test_small_syntax_error_still_uses_tree_sitter():
    broken = PYTHON.replace("    def subtotal(self):", "    def subtotal(self")  # missing "):"
    parsed = parse_file(broken, "python", budget=120)
    assert parsed.parser == "tree-sitter"
    assert joined(parsed) == broken
    names = {s.name for s in parsed.symbols}
    assert {"Invoice", "__init__", "tax", "total", "fmt"} <= names
    assert layout(parsed)[-1] == (25, 30, "")


def test_file_that_is_mostly_errors_falls_back_to_line_windows():
    garbage = "".join(f"}}}} ) ] ::: {i} ==> <<< ?? ;; @@ \\\n" for i in range(100))
    parsed = parse_file(garbage, "python", budget=1500, window_lines=40)
    assert parsed.parser == "lines"
    assert parsed.language == "python"
    assert parsed.symbols == ()
    assert layout(parsed) == [(1, 40, ""), (41, 80, ""), (81, 100, "")]
    assert joined(parsed) == garbage


def test_crlf_gives_the_same_lines_and_symbols_as_lf():
    crlf = PYTHON.replace("\n", "\r\n")
    lf_parsed, crlf_parsed = parse_file(PYTHON, "python", budget=120), parse_file(crlf, "python", budget=120)
    assert joined(crlf_parsed) == crlf
    assert layout(crlf_parsed) == layout(lf_parsed)
    assert crlf_parsed.symbols == lf_parsed.symbols
    assert all(c.text.endswith("\r\n") for c in crlf_parsed.chunks)


def test_no_final_newline():
    text = PYTHON.rstrip("\n")
    parsed = parse_file(text, "python", budget=120)
    assert joined(parsed) == text
    assert layout(parsed) == layout(parse_file(PYTHON, "python", budget=120))
    assert parsed.chunks[-1].text.endswith('return f"{amount:.2f}"')


def test_byte_order_mark_is_kept_and_does_not_break_the_parse():
    text = "\ufeff" + PYTHON
    parsed = parse_file(text, "python", budget=120)
    assert parsed.parser == "tree-sitter"
    assert parsed.chunks[0].text.startswith('\ufeff"""Billing')
    assert joined(parsed) == text
    assert layout(parsed) == layout(parse_file(PYTHON, "python", budget=120))
    assert parsed.symbols == parse_file(PYTHON, "python").symbols


def test_non_ascii_text_and_identifiers():
    text = (
        "# -*- coding: utf-8 -*-\n"
        "def grüße(名前):\n"
        '    """Say hello 👋 — ça va?"""\n'
        "    return f'Hallo {名前} \ufffd\ufffd'\n"
        "\n"
        "class Ωmega:\n"
        "    def e\u0301(self):  # combining accent\n"
        "        return '𝔘𝔫𝔦𝔠𝔬𝔡𝔢'\n"
    )
    for budget in (5, 17, 40, 1500):
        parsed = parse_file(text, "python", budget=budget)
        assert joined(parsed) == text
    parsed = parse_file(text, "python", budget=40)
    assert [s.name for s in parsed.symbols] == ["grüße", "Ωmega", "e\u0301"]
    assert parsed.symbols[2].container == "class Ωmega"


def test_lone_surrogates_from_surrogateescape_round_trip():
    text = b"x = '\xff\xfe'\ndef f():\n    return '\xc3'\n".decode("utf-8", "surrogateescape")
    for budget in (1, 3, 1500):
        parsed = parse_file(text, "python", budget=budget)
        assert joined(parsed) == text


def test_huge_single_line_is_cut_at_the_budget():
    line = "var a=[" + ",".join(f'{{"k{i}":"{"x" * (i % 13)}"}}' for i in range(20_000)) + "];"
    parsed = parse_file(line, "javascript", budget=1500)
    assert joined(parsed) == line
    assert len(parsed.chunks) > len(line) // 1500
    assert all(c.start_line == c.end_line == 1 for c in parsed.chunks)
    assert all(len(c.text) <= 1500 for c in parsed.chunks)  # no whitespace at all in this line


def test_huge_single_token_is_cut_at_the_budget():
    text = "BLOB = '" + "ab" * 10_000 + "'\nx = 1\n"
    parsed = parse_file(text, "python", budget=1000)
    assert joined(parsed) == text
    assert max(len(c.text.strip()) for c in parsed.chunks) <= 1000
    assert parsed.chunks[-1].text.endswith("x = 1\n")


def test_deeply_nested_code_does_not_hit_the_recursion_limit():
    depth = 3_000
    text = "x = " + "(" * depth + "1" + ")" * depth + "\n" + "y = " + " + ".join(["1"] * 20_000) + "\n"
    parsed = parse_file(text, "python", budget=200)
    assert joined(parsed) == text


def test_language_without_grammar_uses_line_windows():
    text = "".join(f"line {i}\n" for i in range(1, 101))
    parsed = parse_file(text, "markdown", window_lines=40)
    assert parsed.parser == "lines"
    assert parsed.language == "markdown"
    assert layout(parsed) == [(1, 40, ""), (41, 80, ""), (81, 100, "")]


def test_line_windows_respect_the_budget_too():
    text = "".join(f"{'w' * 30}\n" for _ in range(10))
    parsed = parse_file(text, None, budget=100, window_lines=40)
    assert parsed.language == "text"
    assert layout(parsed) == [(1, 3, ""), (4, 6, ""), (7, 9, ""), (10, 10, "")]


def test_runs_of_blank_lines_join_a_neighbouring_window():
    text = "a\n" + "\n" * 100 + "b\n"
    parsed = parse_file(text, None, window_lines=40)
    assert all(c.text.strip() for c in parsed.chunks)
    assert joined(parsed) == text


@pytest.mark.parametrize("kwargs", [{"budget": 0}, {"budget": -5}, {"window_lines": 0}])
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="at least 1"):
        parse_file("x = 1\n", "python", **kwargs)


def test_concurrent_callers_get_the_same_results():
    files = sorted(FIXTURES.iterdir())
    jobs = [(p.read_text(encoding="utf-8"), detect_language(p.name)) for p in files] * 4
    expected = [parse_file(text, language, budget=300) for text, language in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: parse_file(job[0], job[1], budget=300), jobs))
    assert results == expected


CPP_HEADER = """\
#pragma once
#include <vector>

namespace geo {

template <typename T>
class Polygon {
public:
    explicit Polygon(std::vector<T> points) : points_(std::move(points)) {}
    T area() const;
    std::size_t size() const noexcept { return points_.size(); }

private:
    std::vector<T> points_;
};

}  // namespace geo
"""

C_HEADER = """\
#ifndef RING_H
#define RING_H
#include <stddef.h>

typedef struct ring ring_t;

ring_t *ring_new(size_t capacity);
void ring_free(ring_t *r);

static inline size_t ring_mask(size_t capacity) { return capacity - 1; }

#endif
"""


def test_cpp_header_detected_as_c_is_parsed_as_cpp():
    assert detect_language("include/geo/polygon.h") == "c"
    parsed = parse_file(CPP_HEADER, "c")
    assert (parsed.language, parsed.parser) == ("cpp", "tree-sitter")
    assert ("Polygon", "class", "namespace geo") in [(s.name, s.kind, s.container) for s in parsed.symbols]


def test_c_header_stays_c():
    parsed = parse_file(C_HEADER, "c")
    assert (parsed.language, parsed.parser) == ("c", "tree-sitter")
    assert [(s.name, s.kind) for s in parsed.symbols] == [
        ("RING_H", "macro"),
        ("ring_t", "type"),
        ("ring_mask", "function"),
    ]


def test_module_wrapped_in_an_error_node_keeps_its_tree():
    # tree-sitter-python wraps this whole stdlib test module in one ERROR node, around valid statements.
    path = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_compile.py"
    text = path.read_text(encoding="utf-8")
    parsed = parse_file(text, "python")
    assert parsed.parser == "tree-sitter"
    assert joined(parsed) == text
    assert "class TestSpecifics" in {c.symbol.split(" > ")[0] for c in parsed.chunks}
