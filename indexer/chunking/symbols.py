"""Definitions found by the language's tags query: the file's symbol table and each chunk's symbol path.

Symbol path format: segments `<keyword> <name>` from the outermost definition inwards, joined by " > ":
`class Session > def send`, `impl Document > fn parse`, `namespace Shop.Orders > class OrderProcessor >
method Ship`. The keyword is the language's own where it has one (see `indexer.languages.tags`).

A chunk's path descends from the top while exactly one definition at that level overlaps the chunk and holds
at least a third of the chunk's non-whitespace characters. So a chunk holding one definition (with comments
above it) gets that definition's path; a part of a split function gets the function's path; a chunk that
merges several definitions gets their enclosing path, "" at module level; imports and constants followed by a
small class stay "". Constants, fields and properties are symbols but never path segments. A function directly
inside a class-like definition or an @scope container (impl, companion object, `class << self`) is a method.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from tree_sitter import Node, QueryCursor

from indexer.chunking.text_index import TextIndex
from indexer.languages.tags import CLASS_LIKE_KINDS, PATH_KINDS, segment_keyword, tags_query
from indexer.types import SymbolDef

__all__ = ["Definitions", "find_definitions"]

_PATH_SEPARATOR = " > "


@dataclass(slots=True)
class _Def:
    start: int
    end: int
    kind: str
    segment: str
    name: str
    is_symbol: bool  # False for @scope containers (Rust impl), which only name a path
    path: str = ""
    children: list[_Def] = field(default_factory=list)
    child_ends: list[int] = field(default_factory=list)


class Definitions:
    """The definitions of one file, nested by containment."""

    def __init__(self, index: TextIndex, defs: list[_Def], symbols: tuple[SymbolDef, ...]) -> None:
        self._index = index
        self._root = _Def(0, 0, "", "", "", False, children=defs, child_ends=[d.end for d in defs])
        self.symbols = symbols

    def path_for(self, start: int, end: int) -> str:
        """The symbol path of the chunk spanning bytes [start, end)."""
        node, index = self._root, self._index
        size = index.nws(start, end)
        while True:
            k = bisect_right(node.child_ends, start)  # first child ending after `start`
            children = node.children
            if k >= len(children) or children[k].start >= end:
                return node.path
            if k + 1 < len(children) and children[k + 1].start < end:
                return node.path  # two or more definitions at this level
            child = children[k]
            if 3 * index.nws(max(start, child.start), min(end, child.end)) < size:
                return node.path  # the definition is a minor part of the chunk
            node = child


def _capture(captures: dict[str, list[Node]]) -> tuple[str, Node] | None:
    for name, nodes in captures.items():
        if name.startswith("definition.") or name == "scope":
            return name, nodes[0]
    return None


def find_definitions(language: str, root: Node, index: TextIndex) -> Definitions:
    """Run the language's tags query over a parsed tree."""
    tags = tags_query(language)
    if tags is None:
        return Definitions(index, [], ())
    # The same node may be captured by several patterns: the lowest pattern index (our own files) wins.
    found: dict[tuple[int, int, str], tuple[int, str, Node, Node | None]] = {}
    for pattern, captures in QueryCursor(tags.query).matches(root):
        hit = _capture(captures)
        if hit is None:
            continue
        capture, node = hit
        key = (node.start_byte, node.end_byte, node.type)
        if key in found and found[key][0] <= pattern:
            continue
        names = captures.get("name")
        found[key] = (pattern, capture, node, names[0] if names else None)

    flat: list[_Def] = []
    for _pattern, capture, node, name_node in found.values():
        kind = "scope" if capture == "scope" else capture.removeprefix("definition.")
        name = "" if name_node is None else index.slice(name_node.start_byte, name_node.end_byte)
        keyword = segment_keyword(language, node.type, kind)
        segment = f"{keyword} {name}".strip()
        flat.append(_Def(node.start_byte, node.end_byte, kind, segment, name, is_symbol=capture != "scope"))
    flat.sort(key=lambda d: (d.start, -d.end))
    return _nest(flat, index)


def _is_class_like(definition: _Def) -> bool:
    return definition.kind in CLASS_LIKE_KINDS or not definition.is_symbol  # @scope: impl, companion object


def _nest(flat: list[_Def], index: TextIndex) -> Definitions:
    top: list[_Def] = []
    stack: list[_Def] = []  # open path definitions, outermost first
    symbols: list[SymbolDef] = []
    for d in flat:
        while stack and stack[-1].end <= d.start:
            stack.pop()
        while stack and stack[-1].end < d.end:  # overlaps without nesting: error recovery, not valid code
            stack.pop()
        parent = stack[-1] if stack else None
        container = parent.path if parent else ""
        if d.kind == "function" and parent is not None and _is_class_like(parent):
            d.kind = "method"
        if d.is_symbol:
            symbols.append(
                SymbolDef(
                    name=d.name,
                    kind=d.kind,
                    start_line=index.line_of(d.start),
                    end_line=index.line_of(max(d.start, d.end - 1)),
                    container=container,
                )
            )
        if d.kind not in PATH_KINDS or not d.segment:
            continue
        d.path = f"{container}{_PATH_SEPARATOR}{d.segment}" if container else d.segment
        if parent is not None:
            parent.children.append(d)
            parent.child_ends.append(d.end)
        else:
            top.append(d)
        stack.append(d)
    return Definitions(index, top, tuple(symbols))
