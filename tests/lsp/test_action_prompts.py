"""Chat prompts for code actions and reading code back out of answers."""

from __future__ import annotations

from lsp.action_prompts import ACTIONS, extract_code, messages_for, reindent, where_tests_go


def test_prompts_carry_the_code_and_the_ask() -> None:
    fix = ACTIONS["codemoat.fix"]
    messages = messages_for(
        fix, code="x = 1/0\n", language="python", path="a.py", diagnostics=["division by zero"]
    )
    assert messages[0]["role"] == "system"
    user = messages[1]["content"]
    assert "```python\nx = 1/0\n```" in user and "division by zero" in user and "`a.py`" in user
    assert (
        "Explain" in messages_for(ACTIONS["codemoat.explain"], code="x", language="go", path="")[1]["content"]
    )


def test_extract_code() -> None:
    assert extract_code("Here:\n```python\ndef f():\n    pass\n```\nDone.") == "def f():\n    pass\n"
    assert extract_code("```\nunterminated\n") == "unterminated\n"
    assert extract_code("plain answer") == "plain answer\n"
    assert extract_code("   ") == ""


def test_reindent_matches_the_selection() -> None:
    assert reindent("def f():\n    pass\n", "    def g():\n        pass\n") == "    def f():\n        pass\n"
    assert reindent("    x\n", "    y\n") == "    x\n"


def test_test_file_names() -> None:
    assert where_tests_go("pkg/util.py", "python") == "test_util.py"
    assert where_tests_go("cmd/main.go", "go") == "main_test.go"
    assert where_tests_go("src/cache.ts", "typescript") == "cache.test.ts"
    assert where_tests_go("Foo.java", "java") == "FooTest.java"
