"""cAST split-then-merge over a tree-sitter tree, producing chunk boundaries (byte offsets).

The file is a sequence of sibling nodes. Walking them in order, the open chunk grows while its
non-whitespace count stays within the budget. A sibling that does not fit closes the open chunk and starts the
next one; a sibling that alone exceeds the budget is split by descending into its children the same way, and a
leaf that is still too large is split at line starts (and a line longer than the budget at the budget).

Refinements over the paper's algorithm, each for a reason:
- Boundaries sit at line starts when only indentation precedes a node, so chunks hold whole lines.
- Gaps between nodes (blank lines, trailing whitespace) go with the node before them: every byte lands in a
  chunk, so the chunks concatenate back to the file.
- Comments, decorators and attributes that open a line stay with the node after them.
- Descending into an oversized node first closes the open chunk, unless what the open chunk holds of the node
  being split is its header (`class Session:`, `def send(self, url):`: keywords and fields, no sibling items)
  or is small (under a quarter of the budget), which then stays with the first part of the node's body
  instead of becoming a tiny chunk.
- A split node is closed at its end: the next named node that opens a line starts a new chunk, so the last
  part of a class never merges with the function after it. Closing tokens (`}`, `end`) and a comment on the
  same line still join the part before them.
- The walk uses an explicit stack: generated code nests deeper than Python's recursion limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from indexer.chunking.lines import LineSplitter
from indexer.chunking.text_index import TextIndex

__all__ = ["split_tree"]

# Node types (besides comments) that belong to the node after them: Python decorators, Rust/C# attributes,
# Java annotations.
_LEADING_TYPES = frozenset(
    {"decorator", "attribute_item", "attribute_list", "annotation", "marker_annotation"}
)


@dataclass(slots=True)
class _Frame:
    node: Node
    children: list[Node]
    bounds: list[int]  # bounds[i] = where child i's span starts; bounds[-1] = the end of the region
    next: int = 0


# Unnamed-field children that still belong to a definition's header.
_HEADER_TYPES = frozenset(
    {
        "modifiers",
        "decorator",
        "attribute_item",
        "attribute_list",
        "class_heritage",
        "type_parameters",
        "superclass",
        "super_interfaces",
    }
)


def _is_leading(node: Node) -> bool:
    kind = node.type
    return kind in _LEADING_TYPES or "comment" in kind


class _Splitter:
    def __init__(self, index: TextIndex, budget: int) -> None:
        self.index = index
        self.budget = budget
        self.min_lead = budget // 4
        self.lines = LineSplitter(index, budget)
        self.pending_close = False  # a split node just ended: its last chunk takes no new named node

    def frame(self, node: Node, start: int, end: int) -> _Frame:
        """Child spans that tile [start, end): each child's span runs to where the next one starts."""
        index = self.index
        children = node.children
        bounds = [start]
        previous_end = start
        is_ascii = index.is_ascii
        for child in children[1:]:
            pos = index.indent_start(child.start_byte, previous_end)
            if not is_ascii:
                pos = index.char_start(pos)
            pos = min(max(pos, bounds[-1]), end)
            bounds.append(pos)
            end_byte = child.end_byte
            previous_end = max(previous_end, end_byte)
        bounds.append(end)
        return _Frame(node, children, bounds)

    def lead(self, frame: _Frame, i: int, chunk_start: int) -> int:
        """Where to cut before child i: before the comments and decorators that open lines just above it,
        as long as the chunk they start with child i stays within the budget."""
        index, bounds = self.index, frame.bounds
        cut = bounds[i]
        j = i - 1
        while j >= 0 and bounds[j] > chunk_start and _is_leading(frame.children[j]):
            if not index.is_line_start(bounds[j]) or index.nws(bounds[j], bounds[i + 1]) > self.budget:
                break
            cut = bounds[j]
            j -= 1
        return cut

    def header_only(self, frame: _Frame, i: int, chunk_start: int) -> bool:
        """Whether the open chunk holds nothing of this frame before child i but its node's header: keywords,
        punctuation and fields such as the name and parameters (`def send(self, url):`), not sibling items."""
        node, bounds = frame.node, frame.bounds
        for k in range(i):
            if bounds[k + 1] <= chunk_start:
                continue
            child = frame.children[k]
            if child.is_named and node.field_name_for_child(k) is None and child.type not in _HEADER_TYPES:
                return False
        return True

    def cut(self, pos: int) -> None:
        self.lines.cut(pos)
        self.pending_close = False

    def run(self, root: Node) -> list[int]:
        """Chunk start offsets from 0: chunk k spans [starts[k], starts[k + 1]), the last one to the end."""
        index, budget, lines = self.index, self.budget, self.lines
        starts = lines.starts  # shared with the line splitter: both append to one list
        if not root.children:
            lines.split(0, index.size)
            return starts
        stack = [self.frame(root, 0, index.size)]
        while stack:
            frame = stack[-1]
            i = frame.next
            if i == len(frame.children):
                stack.pop()
                self.pending_close = bool(stack)
                continue
            frame.next = i + 1
            start, end = frame.bounds[i], frame.bounds[i + 1]
            if start == end:
                continue
            child = frame.children[i]
            if self.pending_close and child.is_named and index.is_line_start(start):
                self.cut(self.lead(frame, i, starts[-1]))
            chunk_start = starts[-1]
            if index.nws(chunk_start, end) <= budget:
                continue  # the open chunk takes this child
            if index.nws(start, end) <= budget:
                self.cut(self.lead(frame, i, chunk_start))
                continue
            # The child alone is over the budget: split it.
            cut = self.lead(frame, i, chunk_start)
            held = index.nws(max(chunk_start, frame.bounds[0]), cut)  # of this frame's node, before child i
            if held >= self.min_lead and not self.header_only(frame, i, chunk_start):
                self.cut(cut)
            if child.children:
                stack.append(self.frame(child, start, end))
            else:
                lines.split(start, end)
                self.pending_close = True
        return starts


def split_tree(index: TextIndex, root: Node, budget: int) -> list[int]:
    """Chunk start offsets for a parsed file (see the module docstring)."""
    return _Splitter(index, budget).run(root)
