"""Post-processing of a streamed code completion: what is sent early is a prefix of the final answer, the answer
equals `postprocess_completion` on the whole text, and the stream ends once the block is over."""

from __future__ import annotations

import pytest

from appliance.api.serving.trimmer import CompletionTrimmer
from appliance.prompts.families import get_family
from appliance.prompts.languages import get_language
from appliance.prompts.postprocess import completion_mode, postprocess_completion

PY = get_language("python")


def run(prefix: str, suffix: str, pieces: list[str], language=PY) -> tuple[str, str, bool, int]:  # type: ignore[no-untyped-def]
    mode = completion_mode(prefix, suffix, language)
    trimmer = CompletionTrimmer(prefix=prefix, suffix=suffix, language=language, mode=mode, stop=())
    sent, fed = "", 0
    for piece in pieces:
        sent += trimmer.feed(piece)
        fed += 1
        if trimmer.ended:
            break
    sent += trimmer.finish()
    return sent, trimmer.result(), trimmer.ended, fed


def test_block_ends_and_generation_stops_early() -> None:
    pieces = [
        "    s = 0\n",
        "    for x in items:\n",
        "        s += x\n",
        "    return s\n",
        "\n",
        "def other():\n",
        "    pass\n",
        "    more()\n",
    ]
    sent, result, ended, fed = run("def total(items):\n", "\n", pieces)
    assert ended and fed == 6  # stopped at the first line outside the block
    assert sent == result == "    s = 0\n    for x in items:\n        s += x\n    return s"
    assert result == postprocess_completion(
        "".join(pieces), prefix="def total(items):\n", suffix="\n", language=PY
    )


def test_single_line_mode_ends_at_the_first_newline() -> None:
    sent, result, ended, fed = run(
        "total = compute(", ")\nprint(total)\n", ["items", ", tax", ")\n", "x = 1\n"]
    )
    assert ended and fed == 3
    assert sent == result == "items, tax"


def test_text_repeating_the_suffix_is_dropped() -> None:
    prefix = "def area(w, h):\n"
    suffix = "\n    return result\n"
    pieces = ["    result = w * h\n", "    return result\n", "\n"]
    sent, result, _, _ = run(prefix, suffix, pieces)
    assert sent == result == "    result = w * h"


@pytest.mark.parametrize("split", [1, 3, 7, 50])
def test_chunking_does_not_change_the_answer(split: int) -> None:
    text = (
        "    if not items:\n        return 0\n    total = 0\n    for x in items:\n        total += x\n"
        "    return total\n\n\nclass Next:\n    pass\n"
    )
    pieces = [text[i : i + split] for i in range(0, len(text), split)]
    sent, result, ended, _ = run("def total(items):\n", "", pieces)
    assert ended and sent == result
    assert result.endswith("    return total") and "class Next" not in result


CASES = [
    # (raw completion, prefix, suffix, language)
    ("apply_discount(price, rate)\n    return total\n", "    total = ", "\n", "python"),
    ("cart))", "print(total(", "))\n", "python"),
    ("return 1\n    return 0\ndef g():\n    pass\n", "def f(x):\n    if x:\n        ", "", "python"),
    (
        "result = sum(cart)\n    return result\n\nprint(total([]))\n",
        "def total(cart):\n    ",
        "\n    return result\n",
        "python",
    ),
    (
        "let n = 0;\n  for (const l of lines) {\n    n += l.quantity;\n  }\n  return n;\n}\n\nfunction other() {\n}\n",
        "function countItems(lines) {\n  ",
        "\n}\n",
        "javascript",
    ),
    ("if (a) {\n    b();\n  }\n  return c;", "function f(a) {\n  ", "\n}\n", "javascript"),
    (
        "tax_for(self.country, net)<|file_sep|>shop/other.py\nimport os",
        "        return net + ",
        "\n",
        "python",
    ),
    ("\n    return price * 2\n\n\ndef other():\n    pass", "def double(price):", "\n", "python"),
]


@pytest.mark.parametrize("size", [1, 3, 7])
@pytest.mark.parametrize(("raw", "prefix", "suffix", "language"), CASES)
def test_streamed_text_is_the_post_processed_text(
    raw: str, prefix: str, suffix: str, language: str, size: int
) -> None:
    lang = get_language(language)
    mode = completion_mode(prefix, suffix, lang)
    stop = get_family("qwen2.5-coder").stop_tokens
    trimmer = CompletionTrimmer(prefix=prefix, suffix=suffix, language=lang, mode=mode, stop=stop)
    sent = ""
    for piece in [raw[i : i + size] for i in range(0, len(raw), size)]:
        sent += trimmer.feed(piece)
        if trimmer.ended:
            break
    sent += trimmer.finish()
    assert sent == postprocess_completion(
        raw, prefix=prefix, suffix=suffix, language=lang, mode=mode, stop=stop
    )
