"""`parse_file`: one file's text → chunks and symbols. Pure: no I/O, no state besides cached grammars."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from tree_sitter import Node, Query, QueryCursor

from indexer.chunking.cast import split_tree
from indexer.chunking.lines import split_lines
from indexer.chunking.symbols import find_definitions
from indexer.chunking.text_index import TextIndex
from indexer.languages.grammars import get_language, get_parser, has_grammar
from indexer.types import Chunk, ParsedFile

__all__ = ["MAX_ERROR_SHARE", "parse_file"]

# A tree whose ERROR nodes hold more than this share of the file's non-whitespace characters is not trusted:
# the file is split into line windows instead. A small syntax error leaves most of the tree intact.
MAX_ERROR_SHARE = 0.5


def parse_file(text: str, language: str | None, *, budget: int = 1500, window_lines: int = 40) -> ParsedFile:
    """Split `text` into chunks and find its definitions.

    `language` is a name from `indexer.languages.detect_language` (None: plain text, reported as "text").
    Languages with a grammar are split with tree-sitter (cAST split-then-merge, at most `budget`
    non-whitespace characters per chunk); other languages, and files whose tree is mostly errors, into
    windows of at most `window_lines` lines within the same budget, with `parser="lines"` and no symbols.

    The chunks concatenate to `text` exactly. An empty text has no chunks; a whitespace-only text is one
    chunk. No chunk holds more than `budget` non-whitespace characters (ASCII whitespace: space, tab, CR, LF,
    FF, VT): a longer line is cut at the budget.
    """
    if budget < 1:
        raise ValueError(f"chunk budget must be at least 1 character, got {budget}")
    if window_lines < 1:
        raise ValueError(f"window_lines must be at least 1, got {window_lines}")
    name = language or "text"
    grammar = has_grammar(language)
    if not text:
        return ParsedFile(language=name, chunks=(), parser="tree-sitter" if grammar else "lines")
    index = TextIndex(text)
    if grammar:
        assert language is not None  # has_grammar(None) is False; narrows the type for checkers
        root = get_parser(language).parse(index.parse_bytes()).root_node
        if not _mostly_errors(language, root, index):
            starts = split_tree(index, root, budget)
            definitions = find_definitions(language, root, index)
            chunks = _chunks(index, starts, definitions.path_for)
            return ParsedFile(language=name, chunks=chunks, symbols=definitions.symbols, parser="tree-sitter")
    starts = split_lines(index, budget, window_lines)
    return ParsedFile(language=name, chunks=_chunks(index, starts, None), parser="lines")


def _chunks(
    index: TextIndex, starts: list[int], path_for: Callable[[int, int], str] | None
) -> tuple[Chunk, ...]:
    ends = [*starts[1:], index.size]
    # A whitespace-only piece (a run of blank lines in a line window) joins the chunk before it, or the one
    # after it at the top of the file: it costs no budget and is useless alone.
    kept = [s for s, e in zip(starts, ends) if s == 0 or index.nws(s, e) > 0]
    if len(kept) > 1 and index.nws(0, kept[1]) == 0:
        del kept[1]
    ends = [*kept[1:], index.size]
    return tuple(
        Chunk(
            text=index.slice(s, e),
            start_line=index.line_of(s),
            end_line=index.line_of(e - 1),
            symbol=path_for(s, e) if path_for is not None else "",
        )
        for s, e in zip(kept, ends)
    )


@cache
def _error_query(language: str) -> Query:
    return Query(get_language(language), "(ERROR) @error")


def _mostly_errors(language: str, root: Node, index: TextIndex) -> bool:
    if not root.has_error:
        return False
    if root.type == "ERROR":
        return True
    errors = QueryCursor(_error_query(language)).captures(root).get("error", [])
    spans = sorted((node.start_byte, node.end_byte) for node in errors)
    covered, reach = 0, 0
    for start, end in spans:  # ERROR nodes nest: count the union once
        start = max(start, reach)
        if end > start:
            covered += index.nws(start, end)
            reach = end
    return covered > MAX_ERROR_SHARE * index.total_nws()
