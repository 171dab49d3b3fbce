"""What a code action may write: the docstring alone, code that is whole, nothing from a cut-off answer."""

from __future__ import annotations

import pytest

from lsp.action_edits import Insertion, Refused, check_code, docstring_insertion, refuse_cut_off

FUNCTION = """    def send(self, request, timeout=None):
        if timeout is None:
            raise ValueError("a timeout is required")

        return self.adapter.send(request, timeout=timeout)
"""
# What a model returns for "add a docstring": the function rewritten, its message changed, blank line gone.
REWRITTEN = '''```python
def send(self, request, timeout=None):
    """Send a request through the adapter.

    Raises ValueError without a timeout.
    """
    if timeout is None:
        raise ValueError("timeout missing")
    return self.adapter.send(request, timeout=timeout)
```'''


def test_a_docstring_is_inserted_and_nothing_else_changes() -> None:
    from lsp.action_prompts import extract_code

    insertion = docstring_insertion(FUNCTION, extract_code(REWRITTEN), "python")
    assert insertion == Insertion(
        line=1,
        text='        """Send a request through the adapter.\n\n        Raises ValueError without a timeout.\n        """\n',
    )
    lines = FUNCTION.splitlines(keepends=True)
    result = "".join(lines[: insertion.line]) + insertion.text + "".join(lines[insertion.line :])
    assert result.replace(insertion.text, "") == FUNCTION  # the original, byte for byte, around it
    assert check_code(result, "python") is None


@pytest.mark.parametrize(
    ("selection", "answer", "says"),
    [
        (FUNCTION, "def send(self, request, timeout=None):\n    return 1\n", "no docstring"),
        ("x = 1\n", '"""doc"""\nx = 1\n', "select a whole function"),
        (
            'def f():\n    """Has one."""\n    return 1\n',
            'def f():\n    """New."""\n    return 1\n',
            "already",
        ),
        ("def f(): return 1\n", 'def f():\n    """Doc."""\n    return 1\n', "own line"),
        (FUNCTION, 'def send(self:\n    """x"""\n', "does not parse"),
    ],
)
def test_docstrings_that_cannot_be_placed_are_refused(selection: str, answer: str, says: str) -> None:
    refused = docstring_insertion(selection, answer, "python")
    assert isinstance(refused, Refused) and says in refused.reason


def test_a_doc_comment_goes_above_the_selection_in_other_languages() -> None:
    selection = "  function add(a, b) {\n    return a + b;\n  }\n"
    answer = "/**\n * Adds two numbers.\n */\nfunction add(a, b) {\n  return a + b + 0;\n}\n"
    assert docstring_insertion(selection, answer, "javascript") == Insertion(
        line=0, text="  /**\n   * Adds two numbers.\n   */\n"
    )
    bare = docstring_insertion(selection, "function add(a, b) {\n}\n", "javascript")
    assert isinstance(bare, Refused) and "no doc comment" in bare.reason


def test_cut_off_or_broken_code_is_refused() -> None:
    assert refuse_cut_off("stop") is None
    cut = refuse_cut_off("length")
    assert cut is not None and "cut off" in cut.reason
    assert check_code("def f(x):\n    return x +\n", "python") is not None
    assert check_code("    if x:\n        y = 1\n", "python") is None  # an indented selection parses
    assert check_code("function f() {\n  return [1, 2;\n}\n", "javascript") is not None
    assert check_code('function f() {\n  return "}";  // }\n}\n', "javascript") is None
    assert check_code("   \n", "go") is not None
