from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.prompts.trimming import trim_prefix, trim_suffix
from tests.appliance.prompts.conftest import chars_div_4

TEXT = "".join(f"line {i:02d} of the file\n" for i in range(1, 21))  # 20 lines of 20 characters (5 tokens)


def test_prefix_keeps_its_end_at_a_line_boundary() -> None:
    kept, tokens = trim_prefix(TEXT, 20, chars_div_4)
    assert kept == "line 17 of the file\nline 18 of the file\nline 19 of the file\nline 20 of the file\n"
    assert tokens == 20


def test_suffix_keeps_its_start_at_a_line_boundary() -> None:
    kept, tokens = trim_suffix(TEXT, 19, chars_div_4)
    assert kept == "line 01 of the file\nline 02 of the file\nline 03 of the file\n"
    assert tokens == 15


def test_text_within_budget_is_kept_whole() -> None:
    assert trim_prefix(TEXT, 1000, chars_div_4) == (TEXT, 100)
    assert trim_suffix(TEXT, 1000, chars_div_4) == (TEXT, 100)


def test_the_cursor_line_over_budget_is_cut_by_characters() -> None:
    line = "x" * 100
    assert trim_prefix("a\n" + line, 5, chars_div_4) == ("x" * 20, 5)
    assert trim_suffix(line + "\nb", 5, chars_div_4) == ("x" * 20, 5)


def test_anchor_keeps_the_first_line_while_the_user_types() -> None:
    # 100 one-token lines and a budget of 30: without anchors the cut would start at line 70 and move down one
    # line every few keystrokes; with anchors of 16 it starts at line 80 and stays there.
    text = "".join(f"{i}\n" for i in range(100))
    assert trim_prefix(text, 30, chars_div_4)[0].startswith("70\n")
    typed = "total = compute(cart, 12)"
    starts = {
        trim_prefix(text + typed[:n], 30, chars_div_4, anchor_lines=16)[0].split("\n")[0]
        for n in range(len(typed) + 1)
    }
    assert starts == {"80"}


def test_zero_budget_keeps_nothing() -> None:
    assert trim_prefix(TEXT, 0, chars_div_4) == ("", 0)
    assert trim_suffix(TEXT, -3, chars_div_4) == ("", 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="ab \t(){}:=", max_size=30), max_size=40),
    st.integers(0, 80),
    st.integers(1, 20),
)
def test_never_over_budget_and_always_an_end_or_a_start(lines: list[str], budget: int, anchor: int) -> None:
    text = "\n".join(lines)
    kept, tokens = trim_prefix(text, budget, chars_div_4, anchor_lines=anchor)
    assert chars_div_4(kept) <= tokens <= max(budget, 0)  # the count is a sum over lines: an upper bound
    assert text.endswith(kept)
    head, head_tokens = trim_suffix(text, budget, chars_div_4)
    assert chars_div_4(head) <= head_tokens <= max(budget, 0)
    assert text.startswith(head)
