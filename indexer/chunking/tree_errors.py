"""How much of a file its syntax tree fails to describe.

tree-sitter recovers from syntax errors by wrapping what it cannot fit in ERROR nodes, and those often hold
valid subtrees: a whole module whose one odd construct defeated the grammar comes back as one ERROR node
around hundreds of good statements. So the measure counts stray material only: the tokens directly inside an
ERROR node that belong to no valid subtree (comments excluded), as a share of the file's non-whitespace
characters.
"""

from __future__ import annotations

from functools import cache

from tree_sitter import Node, Query, QueryCursor

from indexer.chunking.text_index import TextIndex
from indexer.languages.grammars import get_language

__all__ = ["error_share"]


@cache
def _error_query(language: str) -> Query:
    return Query(get_language(language), "(ERROR) @error")


def error_share(language: str, root: Node, index: TextIndex) -> float:
    """The share (0..1) of the file's non-whitespace characters that are stray tokens in ERROR nodes."""
    if not root.has_error:
        return 0.0
    errors = QueryCursor(_error_query(language)).captures(root).get("error", [])
    if root.type == "ERROR":
        errors.append(root)
    seen: set[int] = set()
    stray = 0
    for error in errors:
        if error.id in seen:
            continue
        seen.add(error.id)
        for child in error.children:
            if child.type == "ERROR" or child.is_extra:  # nested errors are visited themselves; comments
                continue
            if not child.is_named or child.child_count == 0:
                stray += index.nws(child.start_byte, child.end_byte)
    return stray / max(1, index.total_nws())
