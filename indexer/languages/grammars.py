"""tree-sitter grammars from the per-language wheels, loaded on first use and cached.

Each grammar comes from its own PyPI wheel (`tree-sitter-python`, ...), which carries the compiled parser:
nothing is downloaded at run time (tree-sitter-language-pack 1.x downloads, so it is never used). A `Language`
is immutable and shared by all threads; a `Parser` keeps per-parse state, so each thread gets its own.
"""

from __future__ import annotations

import importlib
import re
import threading
from functools import cache

from tree_sitter import Language, Parser, Tree

__all__ = ["GRAMMAR_LANGUAGES", "get_language", "get_parser", "has_grammar", "parse_bytes"]

# language name -> (module of its wheel, function in that module returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    # `language_php` parses files that start in HTML mode (`<?php` tags), as real .php files do.
    "php": ("tree_sitter_php", "language_php"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "bash": ("tree_sitter_bash", "language"),
}

GRAMMAR_LANGUAGES: tuple[str, ...] = tuple(_GRAMMARS)

# tree-sitter-bash 0.25.1's external scanner calls C's `isdigit()` on the code point after `{` (brace ranges
# such as `{1..9}`); a code point above 255 indexes glibc's ctype table out of bounds, and past about U+80000
# the read leaves mapped memory: `x{\U000f0000` kills the process with SIGSEGV (now and then, as the heap
# lies). Bash syntax is ASCII, so every character above U+00FF reaches that scanner as ASCII word bytes of the
# same length: byte offsets hold, and names are read from the real text (indexer/chunking/symbols.py).
_ABOVE_LATIN1 = re.compile(rb"[\xc4-\xf4][\x80-\xbf]+")
_INPUT_GUARDS = {"bash": lambda data: _ABOVE_LATIN1.sub(lambda m: b"x" * len(m[0]), data)}

_local = threading.local()


def has_grammar(language: str | None) -> bool:
    return language in _GRAMMARS


@cache
def get_language(language: str) -> Language:
    """The tree-sitter `Language` for a grammar language (KeyError for a language without a grammar)."""
    module_name, function_name = _GRAMMARS[language]
    return Language(getattr(importlib.import_module(module_name), function_name)())


def get_parser(language: str) -> Parser:
    """This thread's parser for `language`."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = Parser(get_language(language))
    return parser


def parse_bytes(language: str, data: bytes) -> Tree:
    """`data` (UTF-8) parsed with this thread's parser for `language`, past the grammar's known scanner faults.

    The tree's byte offsets are those of `data`; read text by those offsets from `data`, not from the nodes."""
    guard = _INPUT_GUARDS.get(language)
    if guard is not None and not data.isascii():
        data = guard(data)
    return get_parser(language).parse(data)
