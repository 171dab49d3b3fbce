"""The chat prompts behind the code actions, and turning the model's answer back into code. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal, Sequence

__all__ = ["Action", "ACTIONS", "messages_for", "extract_code", "where_tests_go"]

ActionName = Literal["explain", "docstring", "tests", "fix"]


@dataclass(frozen=True, slots=True)
class Action:
    name: ActionName
    command: str
    title: str
    # What comes back: an explanation to read, code replacing the selection, or code for a test file.
    result: Literal["explanation", "replace", "tests"]


ACTIONS: dict[str, Action] = {
    a.command: a
    for a in (
        Action("explain", "codemoat.explain", "CodeMoat: Explain", "explanation"),
        Action("docstring", "codemoat.addDocstring", "CodeMoat: Add docstring", "replace"),
        Action("tests", "codemoat.writeTests", "CodeMoat: Write tests", "tests"),
        Action("fix", "codemoat.fix", "CodeMoat: Fix", "replace"),
    )
}

_SYSTEM = (
    "You are CodeMoat, a coding assistant running inside the company's own network. "
    "Answer precisely and briefly."
)


def _fence(language: str, code: str) -> str:
    return f"```{language}\n{code.rstrip()}\n```"


def messages_for(
    action: Action, *, code: str, language: str, path: str, diagnostics: Sequence[str] = ()
) -> list[dict[str, str]]:
    where = f" from `{path}`" if path else ""
    block = _fence(language, code)
    if action.name == "explain":
        ask = f"Explain what this {language} code{where} does, step by step.\n\n{block}"
    elif action.name == "docstring":
        ask = (
            f"Add a docstring (or doc comment, as is idiomatic in {language}) to this code{where}. "
            f"Reply with the complete code, docstring added and nothing else changed, in one fenced code block.\n\n"
            f"{block}"
        )
    elif action.name == "tests":
        ask = (
            f"Write unit tests for this {language} code{where}, using the language's usual test framework. "
            f"Reply with the test code only, in one fenced code block.\n\n{block}"
        )
    else:
        problems = "".join(f"\n- {d}" for d in diagnostics)
        reported = f"\n\nReported problems:{problems}" if problems else ""
        ask = (
            f"Fix the bugs in this {language} code{where}.{reported}\n"
            f"Reply with the complete corrected code in one fenced code block.\n\n{block}"
        )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": ask}]


_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(answer: str) -> str:
    """The first fenced block of the answer (an unterminated one counts), else the whole answer."""
    match = _FENCE.search(answer)
    code = match.group(1) if match else answer
    return code.strip("\n") + "\n" if code.strip() else ""


def reindent(code: str, like: str) -> str:
    """Give `code` the indentation of the first line of `like` (models tend to return code flush left)."""
    first = next((line for line in like.splitlines() if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    lines = code.splitlines(keepends=True)
    if not indent or not lines:
        return code
    body = [line for line in lines if line.strip()]
    current = min((len(line) - len(line.lstrip()) for line in body), default=0)
    if current >= len(indent):
        return code
    return "".join(indent + line if line.strip() else line for line in lines)


def where_tests_go(path: str, language: str) -> str:
    """Where tests for `path` go, by the language's convention (relative to the same directory)."""
    pure = PurePosixPath(path)
    stem, suffix = pure.stem, pure.suffix
    if language == "python":
        name = f"test_{stem}.py"
    elif language == "go":
        name = f"{stem}_test.go"
    elif language in {"javascript", "typescript", "javascriptreact", "typescriptreact"}:
        name = f"{stem}.test{suffix}"
    elif language in {"java", "kotlin", "csharp"}:
        name = f"{stem}Test{suffix}"
    elif language == "ruby":
        name = f"{stem}_spec.rb"
    elif language == "rust":
        name = f"{stem}_tests.rs"
    else:
        name = f"{stem}_test{suffix}"
    return name
