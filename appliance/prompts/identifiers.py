"""Names near the cursor worth looking up in the symbol table: used in the last lines before the cursor or the
first lines after it, not keywords or builtins, not defined in the visible prefix (the model already sees
those), and not the word being typed (it changes with every keystroke and is not a name yet)."""

from __future__ import annotations

import re

from appliance.prompts.languages import LanguageSpec

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_END = re.compile(r"[A-Za-z0-9_]\Z")
_DEFINITION = re.compile(
    r"\b(?:def|class|function|func|fn|fun|struct|interface|enum|type|trait|const|let|var|val|module|sub|"
    r"typedef|namespace)\s+\*?([A-Za-z_][A-Za-z0-9_]*)"
)
_GO_METHOD = re.compile(r"\bfunc\s*\([^)]*\)\s*([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNMENT = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?(?::=|=(?!=))", re.MULTILINE)
_PARAMETERS = re.compile(r"\b(?:def|function|func|fn|fun)\s+[A-Za-z_][A-Za-z0-9_]*\s*\(([^)]*)\)")
# Languages that write the type before the parameter's name (`String name`).
_TYPE_FIRST = {"java", "c", "cpp", "csharp"}


def defined_names(text: str, language: LanguageSpec) -> set[str]:
    names = {m.group(1) for m in _DEFINITION.finditer(text)}
    names.update(m.group(1) for m in _GO_METHOD.finditer(text))
    names.update(m.group(1) for m in _ASSIGNMENT.finditer(text))
    for match in _PARAMETERS.finditer(text):
        for param in match.group(1).split(","):
            words = _IDENT.findall(param.split("=")[0])
            if not words:
                continue
            # `name: Type` and Go's `name Type` name the parameter first; Java and C name it last.
            typed_first = language.name in _TYPE_FIRST and ":" not in param
            names.add(words[-1] if typed_first else words[0])
    return names


def identifiers_near_cursor(
    prefix: str,
    suffix: str,
    language: LanguageSpec,
    *,
    lines_before: int = 8,
    lines_after: int = 3,
    limit: int = 8,
    min_length: int = 3,
) -> list[str]:
    """Closest to the cursor first: the lines before it from the cursor backwards, then the lines after it."""
    before = "\n".join(prefix.split("\n")[-lines_before:]) if lines_before > 0 else ""
    after = "\n".join(suffix.split("\n")[:lines_after]) if lines_after > 0 else ""
    before_matches = list(_IDENT.finditer(before))
    after_matches = list(_IDENT.finditer(after))
    if before_matches and before_matches[-1].end() == len(before):
        before_matches.pop()  # the word being typed
    if after_matches and after_matches[0].start() == 0 and _WORD_END.search(before):
        after_matches.pop(0)  # the cursor sits inside a word: its tail is not a name on its own
    defined = defined_names(prefix, language)
    ordered = [m.group(0) for m in reversed(before_matches)] + [m.group(0) for m in after_matches]
    seen: set[str] = set()
    out: list[str] = []
    for name in ordered:
        if name in seen or len(name) < min_length or name in language.keywords or name in defined:
            continue
        seen.add(name)
        out.append(name)
        if len(out) >= limit:
            break
    return out


__all__ = ["defined_names", "identifiers_near_cursor"]
