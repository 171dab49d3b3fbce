"""Chunking: a file's text → chunks (cAST split-then-merge over the tree-sitter tree, line windows otherwise)
and its definitions. Pure functions, no I/O."""

from indexer.chunking.parse import parse_file

__all__ = ["parse_file"]
