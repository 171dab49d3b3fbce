"""Turn a model's raw completion into what the editor should insert.

Mode (Copilot/Tabby style): the cursor mid-line or after a finished line → one line; the cursor at the end of
a block opener, or on an empty line right after one → a block. Then: cut at stop tokens; in single-line mode
keep one line; in multi-line mode stop where the block ends (a line indented less than the block, or a closing
brace the completion did not open); drop the part that repeats the text after the cursor; strip trailing
whitespace; and return nothing at all when the completion only repeats what is already there."""

from __future__ import annotations

import re
from typing import Literal, Sequence

from appliance.prompts.languages import LanguageSpec, get_language

CompletionMode = Literal["single", "multi"]

_CLOSERS = {")": "(", "]": "[", "}": "{"}
_QUOTES = "\"'`"
_TRAILING_CLOSERS = set(")]}\"'`;,:> ")


def current_line_before(prefix: str) -> str:
    return prefix[prefix.rfind("\n") + 1 :]


def current_line_after(suffix: str) -> str:
    end = suffix.find("\n")
    return suffix if end < 0 else suffix[:end]


def opens_block(line: str, language: LanguageSpec) -> bool:
    stripped = line.rstrip()
    if not stripped:
        return False
    for opener in language.block_openers:
        if opener.isalnum() or opener.endswith(")"):
            words = stripped.split()
            if words and words[-1] == opener:
                return True
        elif stripped.endswith(opener):
            return True
    return False


def completion_mode(prefix: str, suffix: str, language: LanguageSpec | str | None) -> CompletionMode:
    lang = language if isinstance(language, LanguageSpec) else get_language(language)
    if current_line_after(suffix).strip():
        return "single"
    before = current_line_before(prefix)
    if before.strip():
        return "multi" if opens_block(before, lang) else "single"
    previous = [line for line in prefix.split("\n")[:-1] if line.strip()]
    return "multi" if previous and opens_block(previous[-1], lang) else "single"


def mode_stop_sequences(prefix: str, mode: CompletionMode, language: LanguageSpec) -> tuple[str, ...]:
    """Stop sequences for the engine. A newline ends a single-line completion only when the line already has
    text (on an empty line the model may legitimately start with indentation after a newline)."""
    if mode == "single":
        return ("\n",) if current_line_before(prefix).strip() else ()
    return ("\n\n\n", *language.multiline_stops())


def cut_at_stops(text: str, stops: Sequence[str]) -> str:
    cut = len(text)
    for stop in stops:
        if stop:
            at = text.find(stop)
            if 0 <= at < cut:
                cut = at
    return text[:cut]


def _indent(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4
        else:
            break
    return width


def block_end_by_indent(text: str, line_before: str) -> str:
    """Keep lines while they are indented at least as deep as the block the completion starts in."""
    lines = text.split("\n")
    if lines[0].strip():
        base = _indent(line_before + lines[0])  # the completion continues the cursor's line
    else:
        # It starts on the next line (the cursor was at the end of an opener): the body sets the depth.
        body = next((line for line in lines[1:] if line.strip()), None)
        if body is None:
            return text
        base = _indent(body)
    for i in range(1, len(lines)):
        if lines[i].strip() and _indent(lines[i]) < base:
            return "\n".join(lines[:i])
    return text


def block_end_by_braces(text: str) -> str:
    """Cut before the first closing bracket the completion did not open (it closes the enclosing block, which
    the text after the cursor already closes). Strings and line comments are skipped."""
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote or (ch == "\n" and quote != "`"):
                quote = None
        elif ch in _QUOTES:
            quote = ch
        elif text.startswith("//", i):
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                line_start = text.rfind("\n", 0, i) + 1
                return text[:line_start] if not text[line_start:i].strip() else text[:i]
        i += 1
    return text


def _is_trivial(line: str) -> bool:
    """Lines like `}`, `)`, `end` say nothing on their own: matching one is not evidence of repetition."""
    return not re.search(r"[A-Za-z0-9_]", line) or line in {"end", "fi", "done", "esac"}


def trim_suffix_overlap(text: str, suffix: str, line_before: str = "") -> str:
    """Drop what the completion writes again from the text after the cursor.

    Whole lines: from the first completion line where the suffix's next non-blank lines start again (trivial
    lines such as `}` need a second matching line to count). Within the line: the rest of the cursor's line
    when the completion ends with it, or closing brackets/quotes the editor already auto-closed."""
    if not text or not suffix:
        return text
    head = [line.strip() for line in suffix.split("\n") if line.strip()][:3]
    lines = text.split("\n")
    if head:
        for i, line in enumerate(lines):
            if line.strip() != head[0]:
                continue
            rest = [candidate.strip() for candidate in lines[i:] if candidate.strip()]
            matched = 0
            for got, want in zip(rest, head):
                if got != want:
                    break
                matched += 1
            if matched >= (2 if _is_trivial(head[0]) else 1):
                text = "\n".join(lines[:i])
                lines = lines[:i]
                break
    rest_of_line = current_line_after(suffix)
    if "\n" not in text and rest_of_line.strip():
        target = rest_of_line.strip()
        if text.rstrip().endswith(target):
            return text.rstrip()[: len(text.rstrip()) - len(target)]
        return _trim_auto_closed(text, line_before, rest_of_line)
    return text


def _trim_auto_closed(text: str, line_before: str, rest_of_line: str) -> str:
    lead = rest_of_line.lstrip()
    closing = ""
    for ch in lead:
        if ch not in _TRAILING_CLOSERS or ch == " ":
            break
        closing += ch
    full = line_before + text + rest_of_line
    for k in range(len(closing), 0, -1):
        overlap = closing[:k]
        if not text.endswith(overlap):
            continue
        if all(_excess(full, ch) for ch in overlap if ch in _CLOSERS or ch in _QUOTES):
            return text[: len(text) - k]
    return text


def _excess(line: str, ch: str) -> bool:
    if ch in _QUOTES:
        return line.count(ch) % 2 == 1
    return line.count(ch) > line.count(_CLOSERS[ch])


def only_repeats(text: str, prefix: str, suffix: str) -> bool:
    stripped = text.strip()
    if not stripped:
        return True
    if suffix.lstrip().startswith(stripped):
        return True
    if current_line_before(prefix).strip():
        return False
    got = [line.strip() for line in text.split("\n") if line.strip()]
    before = [line.strip() for line in prefix.split("\n")[:-1] if line.strip()]
    return len(before) >= len(got) and before[-len(got) :] == got and not all(_is_trivial(g) for g in got)


def postprocess_completion(
    text: str,
    *,
    prefix: str,
    suffix: str,
    language: LanguageSpec | str | None,
    mode: CompletionMode | None = None,
    stop: Sequence[str] = (),
) -> str:
    """The text to insert at the cursor ("" when nothing useful is left)."""
    lang = language if isinstance(language, LanguageSpec) else get_language(language)
    mode = mode or completion_mode(prefix, suffix, lang)
    line_before = current_line_before(prefix)
    text = cut_at_stops(text, stop)
    if mode == "single":
        text = current_line_after(text)
    else:
        text = block_end_by_indent(text, line_before)
        if lang.block_style == "braces":
            text = block_end_by_braces(text)
    text = trim_suffix_overlap(text, suffix, line_before).rstrip()
    return "" if only_repeats(text, prefix, suffix) else text


__all__ = [
    "CompletionMode",
    "block_end_by_braces",
    "block_end_by_indent",
    "completion_mode",
    "cut_at_stops",
    "mode_stop_sequences",
    "only_repeats",
    "postprocess_completion",
    "trim_suffix_overlap",
]
