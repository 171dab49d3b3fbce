"""The open file's own context, kept when its prefix is cut: its imports and the headers of the definitions
that enclose the cursor, ahead of the nearest lines.

The open file is the best context there is (Continue keeps its imports; Tabby clips retrieved snippets before
the file): the imports say which names of other files are in reach, the enclosing `class` and `def` lines say
what `self` is and which arguments exist. Measured on a held-out repository (bench/RESULTS.md), cutting them to
make room for retrieved snippets made completions worse.

    keep_outline(prefix, budget, count, language)  ->  (text, tokens)

returns the enclosing headers and import lines that are not already among the nearest lines, in file order,
then a gap marker comment, then the nearest lines within what is left of `budget`; the whole prefix when it
fits. The outline costs at most `outline_share` of the budget (headers are served first, then imports, each
statement whole or not at all); its lines never change while the user types inside one function, so the
engine's prompt cache keeps them."""

from __future__ import annotations

import re

from appliance.prompts.languages import LanguageSpec
from appliance.prompts.trimming import TokenCounter, trim_prefix

# Lines that bring names of other files in, by language (unindented, as written at a file's top).
_IMPORTS: dict[str, re.Pattern[str]] = {
    "python": re.compile(r"(import|from)\s"),
    "javascript": re.compile(r"(import\s|export\s.*\sfrom\s|(const|let|var)\s.*=\s*require\()"),
    "typescript": re.compile(r"(import\s|export\s.*\sfrom\s|(const|let|var)\s.*=\s*require\()"),
    "go": re.compile(r"import[\s(]"),
    "java": re.compile(r"(import|package)\s"),
    "kotlin": re.compile(r"(import|package)\s"),
    "rust": re.compile(r"(pub\s+)?(use|mod)\s"),
    "c": re.compile(r"#\s*include\s"),
    "cpp": re.compile(r"(#\s*include\s|using\s|import\s)"),
    "csharp": re.compile(r"using\s"),
    "php": re.compile(r"(use|require|require_once|include|include_once|namespace)\s"),
    "ruby": re.compile(r"(require|require_relative|load)\s"),
}
# Lines that open a definition (indented or not), whose header says what the code below it is.
_HEADERS = re.compile(
    r"\s*((async\s+)?def|class|(export\s+)?(default\s+)?(async\s+)?function|func|fn|pub(\(\w+\))?\s+fn|impl"
    r"|interface|struct|trait|module|object|(public|private|protected|internal|static|final|abstract|"
    r"override|suspend|open|data|sealed)\s.*[({])\b"
)


def keep_outline(
    prefix: str,
    budget: int,
    count: TokenCounter,
    language: LanguageSpec,
    *,
    anchor_lines: int = 1,
    outline_share: float = 0.35,
) -> tuple[str, int]:
    full, tokens = trim_prefix(prefix, budget, count, anchor_lines=anchor_lines)
    if full == prefix or budget <= 0:
        return full, tokens
    lines = prefix.splitlines(keepends=True)
    nearest_start = len(lines) - len(full.splitlines(keepends=True))
    outline = _outline_lines(lines, nearest_start, language)
    if not outline:
        return full, tokens
    marker = language.comment("...") + "\n"
    cap = int(budget * outline_share)
    kept: list[int] = []
    used = count(marker)
    for group in outline:  # a statement's lines go in together or not at all
        cost = sum(count(lines[i]) for i in group)
        if used + cost <= cap:
            kept.extend(group)
            used += cost
    kept.sort()
    if not kept:
        return full, tokens
    near, near_tokens = trim_prefix(prefix, budget - used, count, anchor_lines=anchor_lines)
    near_start = len(lines) - len(near.splitlines(keepends=True))
    kept = [i for i in kept if i < near_start]
    if not kept:
        return near, near_tokens
    head = "".join(lines[i] for i in kept)
    gap = marker if kept[-1] + 1 < near_start else ""
    return head + gap + near, sum(count(lines[i]) for i in kept) + (count(gap) if gap else 0) + near_tokens


def _outline_lines(lines: list[str], nearest_start: int, language: LanguageSpec) -> list[list[int]]:
    """Line indices of the headers of the definitions enclosing the cursor (innermost first), then of the import
    statements above the cut (each with its continuation lines, in file order): one group per statement, in
    the order they get the budget."""
    imports = _IMPORTS.get(language.name)
    groups: list[list[int]] = []
    if imports is not None:
        depth = 0
        for i in range(nearest_start):
            line = lines[i]
            if depth > 0 or imports.match(line):
                if depth > 0:
                    groups[-1].append(i)
                else:
                    groups.append([i])
                depth = max(depth + line.count("(") + line.count("{") - line.count(")") - line.count("}"), 0)
        if depth > 0:
            groups.pop()  # an import still open at the cut: its end is not above the nearest lines
    enclosing: list[int] = []
    indent = _indent(lines[-1]) if lines else 0
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not line.strip():
            continue
        width = _indent(line)
        if width < indent:
            indent = width
            if i < nearest_start and _HEADERS.match(line):
                enclosing.append(i)
            if width == 0:
                break
    return [[i] for i in enclosing] + groups


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


__all__ = ["keep_outline"]
