"""What an open file imports, read from its text: which modules, under which local names, as the repository
paths that could hold them.

The editor's buffer is usually mid-edit and does not parse, so statements are matched line by line rather than
parsed. A reference does not say where the module lives: Python's `a.b` may be `src/a/b.py` or
`Lib/a/b/__init__.py`, so absolute module names become path *suffixes*, matched against the indexed files later
(`indexer.resolution`); relative imports (`from . import x`, `import "./x"`) become exact paths below the
importing file's folder.

    from ..core import Session, helpers as h   → module path "pkg/core" (exact), names Session, helpers→h
    import xml.etree.ElementTree as ET         → suffix "xml/etree/ElementTree", alias ET
    import { parse } from "./util/parse"       → "src/util/parse" (exact), names parse
    import "github.com/acme/pay/ledger"        → suffix "acme/pay/ledger" (a folder: Go imports packages)
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

__all__ = ["ImportRef", "parse_imports", "IMPORT_LANGUAGES"]


@dataclass(frozen=True, slots=True)
class ImportRef:
    """One imported module. `stem` is a path without extension: exact (relative to the repository root) when
    `exact`, else a suffix of the path. `names` maps each local name the statement binds to the name the module
    defines (`helpers as h` → {"h": "helpers"}); `alias` is the local name bound to the module itself, if any.
    `folder`: the reference names a directory of source files (a Go package, a Java `*` import)."""

    stem: str
    exact: bool = False
    names: tuple[tuple[str, str], ...] = ()
    alias: str | None = None
    folder: bool = False


_IDENT = r"[A-Za-z_$][\w$]*"

# -- Python ----------------------------------------------------------------------------------------------------

_PY_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(.+)$", re.MULTILINE)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+?)[ \t]*(?:#.*)?$", re.MULTILINE)


def _python(text: str, importer: str) -> list[ImportRef]:
    refs: list[ImportRef] = []
    folder = posixpath.dirname(importer)
    for match in _PY_FROM.finditer(text):
        dots, module, _ = match.groups()
        names = tuple(_as_pairs(_python_names(text, match)))
        if dots:
            depth = len(folder.split("/")) if folder else 0
            if len(dots) - 1 > depth:
                continue  # above the repository's root: nothing indexed there
            base = folder
            for _ in range(len(dots) - 1):
                base = posixpath.dirname(base)
            stem = posixpath.join(base, *module.split(".")) if module else base
            refs.append(ImportRef(_norm(stem), exact=True, names=names))
            # `from . import helpers`: each name may be a module of its own.
            refs.extend(
                ImportRef(_norm(posixpath.join(stem, orig)), exact=True, alias=local) for local, orig in names
            )
        elif module:
            stem = module.replace(".", "/")
            refs.append(ImportRef(stem, names=names))
            refs.extend(ImportRef(f"{stem}/{orig}", alias=local) for local, orig in names)
    for match in _PY_IMPORT.finditer(text):
        for part in match.group(1).split(","):
            words = part.split()
            if not words or not re.fullmatch(r"[\w.]+", words[0]):
                continue
            module = words[0]
            # `import a.b` binds `a` (and the dotted path reaches a.b); `import a.b as x` binds x to a.b.
            alias = words[2] if len(words) == 3 and words[1] == "as" else module
            refs.append(ImportRef(module.replace(".", "/"), alias=alias))
    return refs


def _python_names(text: str, match: re.Match[str]) -> str:
    names = match.group(3)
    if names.lstrip().startswith("("):
        close = text.find(")", match.start(3))
        names = text[match.start(3) : close if close >= 0 else len(text)]
    elif names.rstrip().endswith("\\"):
        end = match.end(3)
        while names.rstrip().endswith("\\"):
            nl = text.find("\n", end + 1)
            names = names.rstrip()[:-1] + " " + text[end + 1 : nl if nl >= 0 else len(text)]
            end = nl if nl >= 0 else len(text)
    return names.split("#", 1)[0] if "(" not in names else re.sub(r"#[^\n]*", "", names)


def _as_pairs(names_text: str) -> list[tuple[str, str]]:
    out = []
    for part in names_text.strip().strip("()").split(","):
        words = part.split()
        if not words or words[0] == "*" or not re.fullmatch(r"\w+", words[0]):
            continue
        local = words[2] if len(words) == 3 and words[1] == "as" else words[0]
        out.append((local, words[0]))
    return out


# -- JavaScript / TypeScript -----------------------------------------------------------------------------------

_JS_FROM = re.compile(
    r"""(?:^|[;\n])[ \t]*(?:import|export)\b(?:[ \t]+type\b)?([^;'"`]*?)\bfrom[ \t]*['"]([^'"\n]+)['"]""",
    re.MULTILINE,
)
_JS_BARE = re.compile(r"""(?:^|[;\n])[ \t]*import[ \t]*['"]([^'"\n]+)['"]""", re.MULTILINE)
_JS_REQUIRE = re.compile(
    rf"""(?:(?:const|let|var)[ \t]+({_IDENT}|\{{[^}}]*\}})[ \t]*=[ \t]*)?\b(?:require|import)\(\s*['"]([^'"\n]+)['"]\s*\)"""
)


def _javascript(text: str, importer: str) -> list[ImportRef]:
    refs: list[ImportRef] = []
    for match in _JS_FROM.finditer(text):
        clause, spec = match.groups()
        refs.append(_js_ref(spec, importer, *_js_clause(clause)))
    for match in _JS_BARE.finditer(text):
        refs.append(_js_ref(match.group(1), importer, (), None))
    for match in _JS_REQUIRE.finditer(text):
        binding, spec = match.groups()
        if binding and binding.startswith("{"):
            refs.append(_js_ref(spec, importer, _js_braces(binding), None))
        else:
            refs.append(_js_ref(spec, importer, (), binding))
    return refs


def _js_clause(clause: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    clause = clause.strip()
    alias = None
    star = re.search(rf"\*\s*as\s+({_IDENT})", clause)
    if star:
        alias = star.group(1)
    names = list(_js_braces(clause))
    default = re.match(rf"({_IDENT})\s*(?:,|$)", clause)
    if default and default.group(1) != "type":
        alias = alias or default.group(1)
    return tuple(names), alias


def _js_braces(text: str) -> tuple[tuple[str, str], ...]:
    inner = re.search(r"\{([^}]*)\}", text)
    if not inner:
        return ()
    out = []
    for part in inner.group(1).split(","):
        words = part.replace(":", " as ").split()  # `{ a: b }` destructuring binds b to a
        if words and words[0] == "type":
            words = words[1:]
        if not words or not re.fullmatch(_IDENT, words[0]):
            continue
        local = words[2] if len(words) == 3 and words[1] == "as" else words[0]
        out.append((local, words[0]))
    return tuple(out)


def _js_ref(spec: str, importer: str, names: tuple[tuple[str, str], ...], alias: str | None) -> ImportRef:
    if spec.startswith("."):
        stem = _norm(posixpath.join(posixpath.dirname(importer), spec))
        return ImportRef(_strip_ext(stem), exact=True, names=names, alias=alias)
    # A package name or a path alias (`@/lib/x`, `~/x`): its last segments are what a repository path ends with.
    parts = [p for p in spec.split("/") if p and p not in ("@", "~") and not p.startswith("@")] or [spec]
    return ImportRef(_strip_ext("/".join(parts)), names=names, alias=alias)


# -- Go, Java, Kotlin, Rust, C#, PHP, C/C++, Ruby --------------------------------------------------------------

_GO_IMPORT = re.compile(r"""(?:^|\n)[ \t]*import[ \t]*(?:\(([^)]*)\)|((?:[\w.]+[ \t]+)?"[^"\n]+"))""")
_GO_SPEC = re.compile(r"""(?:([\w.]+)[ \t]+)?"([^"\n]+)\"""")
_JAVA_IMPORT = re.compile(
    r"^[ \t]*import[ \t]+(?:static[ \t]+)?(\w+(?:\.\w+)*)(\.\*)?(?:[ \t]+as[ \t]+(\w+))?", re.M
)
_RUST_USE = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?use[ \t]+(\w+(?:::\w+)*)(?:::\{([^}]*)\})?", re.M)
_CSHARP_USING = re.compile(r"^[ \t]*using[ \t]+(?:static[ \t]+)?(?:(\w+)[ \t]*=[ \t]*)?([\w.]+)[ \t]*;", re.M)
_PHP_USE = re.compile(
    r"^[ \t]*use[ \t]+(?:function[ \t]+|const[ \t]+)?([\w\\]+)(?:[ \t]+as[ \t]+(\w+))?", re.M
)
_C_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"', re.M)
_RUBY_REQUIRE = re.compile(r"""^[ \t]*require(_relative)?[ \t(]+['"]([^'"\n]+)['"]""", re.M)


def _go(text: str, importer: str) -> list[ImportRef]:
    refs = []
    for match in _GO_IMPORT.finditer(text):
        for alias, spec in _GO_SPEC.findall(match.group(1) or match.group(2) or ""):
            parts = spec.split("/")
            stem = "/".join(parts[1:]) if len(parts) > 1 and "." in parts[0] else spec  # drop the host
            refs.append(
                ImportRef(stem, alias=alias if alias not in ("", "_", ".") else parts[-1], folder=True)
            )
    return refs


def _java(text: str, importer: str) -> list[ImportRef]:
    refs = []
    for match in _JAVA_IMPORT.finditer(text):
        dotted, star, alias = match.groups()
        parts = dotted.split(".")
        if star:
            refs.append(ImportRef("/".join(parts), folder=True))
            continue
        refs.append(ImportRef("/".join(parts), alias=alias or parts[-1]))
        if len(parts) > 1 and parts[-1][:1].islower():  # `import static a.B.member`: the class holds it
            refs.append(ImportRef("/".join(parts[:-1]), names=((alias or parts[-1], parts[-1]),)))
    return refs


def _rust(text: str, importer: str) -> list[ImportRef]:
    refs = []
    for match in _RUST_USE.finditer(text):
        path, group = match.groups()
        parts = [p for p in path.split("::") if p]
        if parts and parts[0] in ("crate", "self", "super"):
            parts = parts[1:]
        names = tuple(_as_pairs(group.replace("self", "")) if group else ())
        if not group and len(parts) > 1:
            names = ((parts[-1], parts[-1]),)
            parts = parts[:-1]
        if parts:
            refs.append(ImportRef("/".join(parts), names=names))
    return refs


def _csharp(text: str, importer: str) -> list[ImportRef]:
    return [
        ImportRef(dotted.replace(".", "/"), alias=alias or None, folder=True)
        for alias, dotted in _CSHARP_USING.findall(text)
    ]


def _php(text: str, importer: str) -> list[ImportRef]:
    refs = []
    for qualified, alias in _PHP_USE.findall(text):
        parts = [p for p in qualified.split("\\") if p]
        if parts:
            refs.append(ImportRef("/".join(parts), alias=alias or parts[-1]))
    return refs


def _c(text: str, importer: str) -> list[ImportRef]:
    refs = []
    for spec in _C_INCLUDE.findall(text):
        near = _norm(posixpath.join(posixpath.dirname(importer), spec))
        refs.append(ImportRef(_strip_ext(near), exact=True))
        refs.append(ImportRef(_strip_ext(spec)))
    return refs


def _ruby(text: str, importer: str) -> list[ImportRef]:
    refs = []
    for relative, spec in _RUBY_REQUIRE.findall(text):
        if relative:
            refs.append(
                ImportRef(_strip_ext(_norm(posixpath.join(posixpath.dirname(importer), spec))), exact=True)
            )
        else:
            refs.append(ImportRef(_strip_ext(spec)))
    return refs


_PARSERS = {
    "python": _python,
    "javascript": _javascript,
    "typescript": _javascript,
    "tsx": _javascript,
    "vue": _javascript,
    "svelte": _javascript,
    "go": _go,
    "java": _java,
    "kotlin": _java,
    "rust": _rust,
    "csharp": _csharp,
    "php": _php,
    "c": _c,
    "cpp": _c,
    "ruby": _ruby,
}
IMPORT_LANGUAGES = frozenset(_PARSERS)


def parse_imports(text: str, language: str, importer: str = "") -> list[ImportRef]:
    """The modules `text` (the file at repository path `importer`) imports, in order, duplicates removed.
    Languages without a reader here give an empty list."""
    parser = _PARSERS.get(language)
    if parser is None:
        return []
    out: dict[ImportRef, None] = {}
    for ref in parser(text, importer):
        if ref.stem and not ref.stem.startswith("../"):  # outside the repository: nothing indexed to find
            out.setdefault(ref)
    return list(out)


def _norm(path: str) -> str:
    normal = posixpath.normpath(path) if path else ""
    return "" if normal == "." else normal


_SOURCE_EXT = re.compile(r"\.(?:[cm]?[jt]sx?|py|rb|h|hpp|hh|hxx)$")


def _strip_ext(stem: str) -> str:
    return _SOURCE_EXT.sub("", stem)
