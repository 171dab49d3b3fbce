"""Tags queries: which syntax nodes are definitions, what they are called, and how a symbol path names them.

A language's query is our file under `queries/` (read first), followed by the `queries/tags.scm` its grammar
wheel ships where that file is good enough. When several patterns capture the same node the first pattern
wins, so our file can correct the wheel's kind for a node (Rust's wheel calls a struct a class). Only
definition patterns stay enabled: the wheels' reference patterns (`@reference.call`, ...) would match every
identifier. Where a wheel ships no tags.scm (Kotlin, Bash), or a poor one (C and C++ capture the declarator,
not the function; C#'s wheel installs its file outside the package), our file stands alone.

Capture conventions, shared by the wheels and our files:
  @definition.<kind>  the whole definition node, with @name its name
  @scope              a container that appears in symbol paths but is no symbol itself (Rust `impl`)

A symbol path segment is `<keyword> <name>`: the language's own keyword where it has one (Python `def`, Go
`func`, Rust `fn`/`impl`, Kotlin `fun`), the kind otherwise (`method` in Java, `function` in C).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from tree_sitter import Query

from indexer.languages.grammars import get_language

__all__ = ["CLASS_LIKE_KINDS", "PATH_KINDS", "TagsQuery", "segment_keyword", "tags_query"]

_OWN = "own"
_WHEEL = "wheel"
_TYPESCRIPT = (
    (_OWN, "typescript.scm"),
    (_WHEEL, "tree_sitter_typescript"),
    (_WHEEL, "tree_sitter_javascript"),
)

# language -> query sources, first one first: ("own", a file in queries/) or ("wheel", a grammar package).
_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "python": ((_WHEEL, "tree_sitter_python"),),
    "javascript": ((_OWN, "javascript.scm"), (_WHEEL, "tree_sitter_javascript")),
    "typescript": _TYPESCRIPT,
    "tsx": _TYPESCRIPT,
    "go": ((_OWN, "go.scm"), (_WHEEL, "tree_sitter_go")),
    "java": ((_OWN, "java.scm"), (_WHEEL, "tree_sitter_java")),
    "rust": ((_OWN, "rust.scm"), (_WHEEL, "tree_sitter_rust")),
    "c": ((_OWN, "c.scm"),),
    "cpp": ((_OWN, "cpp.scm"),),
    "csharp": ((_OWN, "csharp.scm"),),
    "ruby": ((_OWN, "ruby.scm"), (_WHEEL, "tree_sitter_ruby")),
    "php": ((_OWN, "php.scm"), (_WHEEL, "tree_sitter_php")),
    "kotlin": ((_OWN, "kotlin.scm"),),
    "bash": ((_OWN, "bash.scm"),),
}

# A function directly inside one of these (or inside an @scope container) is a method.
CLASS_LIKE_KINDS = frozenset(
    {"class", "interface", "struct", "enum", "union", "record", "trait", "object", "impl"}
)
# Kinds that hold code worth naming in a chunk's symbol path; constants, fields and properties do not.
PATH_KINDS = CLASS_LIKE_KINDS | {"module", "type", "function", "method", "constructor", "macro", "scope"}

_JAVASCRIPT_KEYWORDS = {
    "class_declaration": "class",
    "class": "class",
    "function_declaration": "function",
    "function_expression": "function",
    "generator_function": "function",
    "generator_function_declaration": "function",
    "variable_declarator": "function",
    "assignment_expression": "function",
    "pair": "function",
    "method_definition": "method",
}
_TYPESCRIPT_KEYWORDS = {
    **_JAVASCRIPT_KEYWORDS,
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "module",
    "function_signature": "function",
    "method_signature": "method",
    "abstract_method_signature": "method",
}
# language -> node type -> keyword in symbol paths. Node types not listed use the definition's kind.
_KEYWORDS: dict[str, dict[str, str]] = {
    "python": {"class_definition": "class", "function_definition": "def"},
    "javascript": _JAVASCRIPT_KEYWORDS,
    "typescript": _TYPESCRIPT_KEYWORDS,
    "tsx": _TYPESCRIPT_KEYWORDS,
    "go": {
        "function_declaration": "func",
        "method_declaration": "func",
        "type_spec": "type",
        "type_alias": "type",
        "const_spec": "const",
    },
    "rust": {
        "function_item": "fn",
        "impl_item": "impl",
        "struct_item": "struct",
        "enum_item": "enum",
        "union_item": "union",
        "trait_item": "trait",
        "mod_item": "mod",
        "type_item": "type",
        "macro_definition": "macro_rules!",
        "const_item": "const",
        "static_item": "static",
    },
    "java": {"annotation_type_declaration": "@interface"},
    "c": {"type_definition": "typedef", "preproc_def": "#define", "preproc_function_def": "#define"},
    "cpp": {
        "namespace_definition": "namespace",
        "type_definition": "typedef",
        "alias_declaration": "using",
        "preproc_def": "#define",
        "preproc_function_def": "#define",
    },
    "csharp": {
        "namespace_declaration": "namespace",
        "file_scoped_namespace_declaration": "namespace",
        "delegate_declaration": "delegate",
    },
    "ruby": {
        "method": "def",
        "singleton_method": "def",
        "singleton_class": "class <<",
        "class": "class",
        "module": "module",
        "alias": "alias",
    },
    "php": {
        "namespace_definition": "namespace",
        "function_definition": "function",
        "method_declaration": "function",
        "const_declaration": "const",
    },
    "kotlin": {
        "function_declaration": "fun",
        "object_declaration": "object",
        "companion_object": "companion object",
        "type_alias": "typealias",
        "property_declaration": "const val",
    },
    "bash": {"function_definition": "function"},
}


@dataclass(frozen=True, slots=True)
class TagsQuery:
    """A compiled definitions query for one language."""

    language: str
    query: Query


def segment_keyword(language: str, node_type: str, kind: str) -> str:
    """The keyword that opens a symbol path segment for a definition node."""
    return _KEYWORDS.get(language, {}).get(node_type, kind)


def _source_text(origin: str, ref: str) -> str:
    if origin == _OWN:
        return resources.files("indexer.languages.queries").joinpath(ref).read_text(encoding="utf-8")
    return resources.files(ref).joinpath("queries", "tags.scm").read_text(encoding="utf-8")


@cache
def tags_query(language: str) -> TagsQuery | None:
    """The definitions query of a grammar language, compiled once; None for a language without a grammar."""
    sources = _SOURCES.get(language)
    if sources is None:
        return None
    source = "\n".join(_source_text(origin, ref) for origin, ref in sources)
    query = Query(get_language(language), source)
    encoded = source.encode("utf-8")
    for index in range(query.pattern_count):
        pattern = encoded[query.start_byte_for_pattern(index) : query.end_byte_for_pattern(index)]
        if b"@definition." not in pattern and b"@scope" not in pattern:
            query.disable_pattern(index)
    return TagsQuery(language=language, query=query)
