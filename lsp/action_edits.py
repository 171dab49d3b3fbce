"""What a code action may write back into a file: only what the action promises, and only code that is whole.

A model asked to "add a docstring" tends to return the whole function rewritten (a message changed, blank lines
gone), and an answer cut at the token limit is code that no longer parses. So:

- "Add docstring" inserts the docstring alone (Python: the first statement of the function or class; other
  languages: the doc comment above it); the rest of the model's rewrite is discarded.
- "Fix" replaces the selection, and only with code that parses.
- Nothing is written from an answer that stopped at the token limit.

Python is checked with its own parser (`ast`); other languages, in the light install that has no grammars, by
the balance of their brackets outside strings and comments. Pure functions: `Refused` carries the message the
developer sees."""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

__all__ = ["Insertion", "Refused", "check_code", "docstring_insertion", "refuse_cut_off"]


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@dataclass(frozen=True, slots=True)
class Insertion:
    line: int  # 0-based line of the selection before which `text` goes
    text: str


def refuse_cut_off(finish_reason: str | None) -> Refused | None:
    if finish_reason == "length":
        return Refused(
            "the answer was cut off at the token limit, so nothing was changed "
            "(raise `codemoat.chatMaxTokens`, or select less code)"
        )
    return None


def check_code(code: str, language: str) -> Refused | None:
    """None when `code` is whole: it parses (Python) or its brackets balance (anything else)."""
    if not code.strip():
        return Refused("the model wrote no code")
    if language == "python":
        try:
            ast.parse(textwrap.dedent(code))
        except SyntaxError as exc:
            return Refused(
                f"the model's code does not parse (line {exc.lineno}: {exc.msg}); nothing was changed"
            )
        return None
    problem = _unbalanced(code)
    return Refused(f"the model's code is not whole ({problem}); nothing was changed") if problem else None


def docstring_insertion(selection: str, answer_code: str, language: str) -> Insertion | Refused:
    """Where in `selection` the documentation from `answer_code` goes, and its text, indented to fit."""
    if language == "python":
        return _python_docstring(selection, answer_code)
    return _doc_comment(selection, answer_code)


def _python_docstring(selection: str, answer_code: str) -> Insertion | Refused:
    original = _first_definition(selection)
    if original is None:
        return Refused("select a whole function or class to document")
    if ast.get_docstring(original) is not None:
        return Refused("it already has a docstring")
    if original.body[0].lineno == original.lineno:
        return Refused("put the body on its own line first: a docstring cannot go into a one-line definition")
    answer = textwrap.dedent(answer_code)
    try:
        rewritten = _first_definition(answer, parsed=ast.parse(answer))
    except SyntaxError:
        return Refused("the model's answer does not parse; nothing was changed")
    if rewritten is None or ast.get_docstring(rewritten) is None:
        return Refused("the model wrote no docstring; nothing was changed")
    literal = ast.get_source_segment(answer, rewritten.body[0]) or ""
    lines = selection.splitlines(keepends=True)
    first_body = original.body[0].lineno - 1  # where the body starts in the (dedented) selection
    body_line = lines[first_body] if first_body < len(lines) else ""
    indent = body_line[: len(body_line) - len(body_line.lstrip())]
    docstring_lines = textwrap.dedent(" " * rewritten.body[0].col_offset + literal).splitlines()
    text = "".join(f"{indent}{line}\n" if line.strip() else "\n" for line in docstring_lines)
    return Insertion(line=first_body, text=text)


def _first_definition(
    code: str, parsed: ast.Module | None = None
) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    try:
        module = parsed if parsed is not None else ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node
    return None


_COMMENT = re.compile(r"\s*(//|/\*|\*|#|--|;)")


def _doc_comment(selection: str, answer_code: str) -> Insertion | Refused:
    first = next((line for line in selection.splitlines() if line.strip()), "")
    if not first:
        return Refused("select the code to document")
    answer_lines = answer_code.splitlines()
    header = next((i for i, line in enumerate(answer_lines) if line.strip() == first.strip()), None)
    if header is None:
        return Refused("the model's answer does not contain the selected code; nothing was changed")
    comment: list[str] = []
    for line in reversed(answer_lines[:header]):
        if not _COMMENT.match(line):
            break
        comment.insert(0, line.strip())
    if not comment:
        return Refused("the model wrote no doc comment; nothing was changed")
    indent = first[: len(first) - len(first.lstrip())]
    line = next(i for i, text in enumerate(selection.splitlines()) if text.strip())
    # Continuation lines of a block comment (` * ...`) keep their one-space offset.
    text = "".join(f"{indent}{' ' if c.startswith('*') else ''}{c}\n" for c in comment)
    return Insertion(line=line, text=text)


_PAIRS = {")": "(", "]": "[", "}": "{"}
_STRINGS_AND_COMMENTS = re.compile(
    r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`(?:\\.|[^`\\])*`|//[^\n]*|/\*.*?\*/|#[^\n]*', re.DOTALL
)


def _unbalanced(code: str) -> str | None:
    stack: list[str] = []
    for char in _STRINGS_AND_COMMENTS.sub("", code):
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS:
            if not stack or stack.pop() != _PAIRS[char]:
                return f"an unmatched {char!r}"
    return f"{len(stack)} unclosed {stack[-1]!r}" if stack else None
