"""`parse_file`: one file's text → chunks and symbols. Pure: no I/O, no state besides cached grammars."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from indexer.chunking.cast import split_tree
from indexer.chunking.lines import split_lines
from indexer.chunking.symbols import find_definitions
from indexer.chunking.text_index import TextIndex
from indexer.chunking.tree_errors import error_share
from indexer.languages.grammars import has_grammar, parse_bytes
from indexer.types import Chunk, ParsedFile

__all__ = ["MAX_ERROR_SHARE", "parse_file"]

# A tree with more than this share of the file in stray error tokens is not trusted: the file is split into
# line windows instead. A small syntax error leaves most of the tree intact.
MAX_ERROR_SHARE = 0.3
# A language whose files are often another's: `.h` headers of C++ code are detected as C, and system C
# headers full of attribute macros also parse better with the C++ grammar. Past this error share the other
# grammar is tried too, and the better tree wins (the file is then reported in that language).
_ALTERNATE_GRAMMAR = {"c": "cpp"}
_TRY_ALTERNATE_SHARE = 0.02


def parse_file(text: str, language: str | None, *, budget: int = 1500, window_lines: int = 40) -> ParsedFile:
    """Split `text` into chunks and find its definitions.

    `language` is a name from `indexer.languages.detect_language` (None: plain text, reported as "text").
    Languages with a grammar are split with tree-sitter (cAST split-then-merge, at most `budget`
    non-whitespace characters per chunk); other languages, and files whose tree is mostly errors, into
    windows of at most `window_lines` lines within the same budget, with `parser="lines"` and no symbols.
    A C file that the C++ grammar reads much better comes back as "cpp".

    The chunks concatenate to `text` exactly. An empty text has no chunks; a whitespace-only text is one
    chunk. No chunk holds more than `budget` non-whitespace characters (ASCII whitespace: space, tab, CR, LF,
    FF, VT): a longer line is cut at the budget.
    """
    if budget < 1:
        raise ValueError(f"chunk budget must be at least 1 character, got {budget}")
    if window_lines < 1:
        raise ValueError(f"window_lines must be at least 1, got {window_lines}")
    name = language or "text"
    grammar = language if has_grammar(language) else None
    if not text:
        return ParsedFile(language=name, chunks=(), parser="tree-sitter" if grammar else "lines")
    index = TextIndex(text)
    if grammar is not None:
        language, root, share = _parse(grammar, index)
        if share <= MAX_ERROR_SHARE:
            starts = split_tree(index, root, budget)
            definitions = find_definitions(language, root, index)
            chunks = _chunks(index, starts, definitions.path_for)
            return ParsedFile(
                language=language, chunks=chunks, symbols=definitions.symbols, parser="tree-sitter"
            )
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


def _parse(language: str, index: TextIndex) -> tuple[str, Node, float]:
    """The syntax tree with the fewest errors among the language's grammar and its alternate."""
    root = parse_bytes(language, index.parse_bytes()).root_node
    share = error_share(language, root, index)
    alternate = _ALTERNATE_GRAMMAR.get(language)
    if alternate is not None and share > _TRY_ALTERNATE_SHARE:
        other = parse_bytes(alternate, index.parse_bytes()).root_node
        other_share = error_share(alternate, other, index)
        if 2 * other_share < share:  # clearly better, not a tie that would relabel plain C
            return alternate, other, other_share
    return language, root, share
