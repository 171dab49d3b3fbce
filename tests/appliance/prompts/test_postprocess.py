from __future__ import annotations

import pytest

from appliance.prompts import completion_mode, get_family, postprocess_completion


@pytest.mark.parametrize(
    ("prefix", "suffix", "language", "mode"),
    [
        ("print(total(", "))\n", "python", "single"),  # cursor mid-line
        ("    net = ", "\n", "python", "single"),  # end of an unfinished line
        ("def total(cart):", "\n", "python", "multi"),  # end of a block opener
        ("def total(cart):\n    ", "\n", "python", "multi"),  # empty line right after an opener
        ("x = 1\n", "\ny = 2\n", "python", "single"),  # empty line, no opener above
        ("function f() {\n  ", "\n}\n", "javascript", "multi"),
        ("items.each do", "\nend\n", "ruby", "multi"),  # word opener
        ("const x = compute(a, b", ");\n", "typescript", "single"),
    ],
)
def test_mode(prefix: str, suffix: str, language: str, mode: str) -> None:
    assert completion_mode(prefix, suffix, language) == mode


def test_single_line_stops_at_the_end_of_the_line() -> None:
    out = postprocess_completion(
        "apply_discount(price, rate)\n    return total\n",
        prefix="    total = ",
        suffix="\n",
        language="python",
    )
    assert out == "apply_discount(price, rate)"


def test_auto_closed_brackets_in_the_suffix_are_not_written_twice() -> None:
    assert postprocess_completion("cart))", prefix="print(total(", suffix="))\n", language="python") == "cart"
    # The completion's own closing bracket is kept: only the excess goes.
    assert postprocess_completion("len(a)]", prefix="x = [", suffix="]\n", language="python") == "len(a)"
    assert postprocess_completion("len(a)", prefix="x = [", suffix="]\n", language="python") == "len(a)"
    assert postprocess_completion('hello"', prefix='say("', suffix='")\n', language="python") == "hello"


def test_rest_of_line_written_again_is_dropped() -> None:
    out = postprocess_completion(
        "cart.items)", prefix="value = compute(", suffix="items)\n", language="python"
    )
    assert out == "cart."


def test_multiline_python_stops_where_the_block_ends() -> None:
    out = postprocess_completion(
        "return 1\n    return 0\ndef g():\n    pass\n",
        prefix="def f(x):\n    if x:\n        ",
        suffix="",
        language="python",
    )
    assert out == "return 1"


def test_multiline_completion_that_runs_into_the_suffix_is_cut_there() -> None:
    out = postprocess_completion(
        "result = sum(cart)\n    return result\n\nprint(total([]))\n",
        prefix="def total(cart):\n    ",
        suffix="\n    return result\n",
        language="python",
    )
    assert out == "result = sum(cart)"


def test_multiline_from_the_end_of_an_opener_line() -> None:
    out = postprocess_completion(
        "\n    return price * 2\n\n\ndef other():\n    pass",
        prefix="def double(price):",
        suffix="\n",
        language="python",
    )
    assert out == "\n    return price * 2"


def test_javascript_block_ends_at_the_brace_it_did_not_open() -> None:
    completion = (
        "let n = 0;\n  for (const l of lines) {\n    n += l.quantity;\n  }\n  return n;\n}\n\n"
        "function other() {\n}\n"
    )
    out = postprocess_completion(
        completion, prefix="function countItems(lines) {\n  ", suffix="\n}\n", language="javascript"
    )
    assert out == "let n = 0;\n  for (const l of lines) {\n    n += l.quantity;\n  }\n  return n;"


def test_go_braces_inside_strings_and_comments_do_not_count() -> None:
    completion = (
        's := 0\n\tfmt.Println("}") // closing } here\n\tfor _, x := range xs {\n\t\ts += x\n\t}\n'
        "\treturn s\n}\n\nfunc main() {}\n"
    )
    out = postprocess_completion(
        completion, prefix="func Total(xs []int) int {\n\t", suffix="\n}\n", language="go"
    )
    assert out == (
        's := 0\n\tfmt.Println("}") // closing } here\n\tfor _, x := range xs {\n\t\ts += x\n\t}\n\treturn s'
    )


def test_a_closing_brace_of_its_own_block_is_not_taken_for_the_suffix() -> None:
    out = postprocess_completion(
        "if (a) {\n    b();\n  }\n  return c;",
        prefix="function f(a) {\n  ",
        suffix="\n}\n",
        language="javascript",
    )
    assert out == "if (a) {\n    b();\n  }\n  return c;"


def test_family_stop_tokens_end_the_completion() -> None:
    family = get_family("qwen2.5-coder")
    out = postprocess_completion(
        "tax_for(self.country, net)<|file_sep|>shop/other.py\nimport os",
        prefix="        return net + ",
        suffix="\n",
        language="python",
        stop=family.stop_tokens,
    )
    assert out == "tax_for(self.country, net)"


def test_text_that_only_repeats_what_is_there_is_dropped() -> None:
    assert (
        postprocess_completion(
            "return net", prefix="def f(net):\n    ", suffix="return net\n", language="python"
        )
        == ""
    )
    assert (
        postprocess_completion(
            "b = parse(a)", prefix="a = load()\nb = parse(a)\n", suffix="", language="python"
        )
        == ""
    )
    assert postprocess_completion("   \n\n", prefix="x = ", suffix="", language="python") == ""


def test_trailing_whitespace_is_stripped() -> None:
    out = postprocess_completion(
        "return price   \n\n\n", prefix="def f(price):\n    ", suffix="", language="python"
    )
    assert out == "return price"
