"""Languages: detection by file name and shebang, tree-sitter grammars from the per-language wheels (loaded
lazily, offline), and the tags queries that find definitions."""

from indexer.languages.detect import detect_language
from indexer.languages.grammars import GRAMMAR_LANGUAGES, get_language, get_parser, has_grammar, parse_bytes

__all__ = ["GRAMMAR_LANGUAGES", "detect_language", "get_language", "get_parser", "has_grammar", "parse_bytes"]
