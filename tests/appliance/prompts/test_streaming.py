from __future__ import annotations

import pytest

from appliance.prompts import completion_mode, get_family, postprocess_completion
from appliance.prompts.streaming import CompletionStream

CASES = [
    # (raw completion, prefix, suffix, language)
    ("apply_discount(price, rate)\n    return total\n", "    total = ", "\n", "python"),
    ("cart))", "print(total(", "))\n", "python"),
    ("return 1\n    return 0\ndef g():\n    pass\n", "def f(x):\n    if x:\n        ", "", "python"),
    ("result = sum(cart)\n    return result\n\nprint(total([]))\n", "def total(cart):\n    ",
     "\n    return result\n", "python"),
    ("let n = 0;\n  for (const l of lines) {\n    n += l.quantity;\n  }\n  return n;\n}\n\nfunction other() {\n}\n",
     "function countItems(lines) {\n  ", "\n}\n", "javascript"),
    ("if (a) {\n    b();\n  }\n  return c;", "function f(a) {\n  ", "\n}\n", "javascript"),
    ("tax_for(self.country, net)<|file_sep|>shop/other.py\nimport os", "        return net + ", "\n", "python"),
    ("\n    return price * 2\n\n\ndef other():\n    pass", "def double(price):", "\n", "python"),
]


def chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 3, 7])
@pytest.mark.parametrize(("raw", "prefix", "suffix", "language"), CASES)
def test_streamed_text_is_the_post_processed_text(raw: str, prefix: str, suffix: str, language: str,
                                                  size: int) -> None:
    mode = completion_mode(prefix, suffix, language)
    stop = get_family("qwen2.5-coder").stop_tokens
    stream = CompletionStream(prefix=prefix, suffix=suffix, language=language, mode=mode, stop=stop)
    out = ""
    for piece in chunks(raw, size):
        out += stream.feed(piece)
        if stream.finished:
            break
    out += stream.finish()
    assert out == postprocess_completion(raw, prefix=prefix, suffix=suffix, language=language, mode=mode,
                                         stop=stop)


def test_the_block_end_is_known_before_the_model_stops() -> None:
    raw = "let n = 0;\n  return n;\n}\n\nfunction other() {\n  return 1;\n}\n"
    stream = CompletionStream(prefix="function f() {\n  ", suffix="\n}\n", language="javascript", mode="multi")
    fed = 0
    emitted = ""
    for piece in chunks(raw, 1):
        emitted += stream.feed(piece)
        fed += 1
        if stream.finished:
            break
    assert stream.finished and fed == raw.index("}\n") + 2  # decided as soon as the closing line was whole
    assert emitted == "let n = 0;\n  return n;"


def test_lines_are_emitted_as_they_complete() -> None:
    stream = CompletionStream(prefix="def f(xs):\n    ", suffix="", language="python", mode="multi")
    assert stream.feed("total = 0\n    for x") == "total = 0"
    assert stream.feed(" in xs:\n") == "\n    for x in xs:"
    assert stream.feed("        total += x") == ""
    assert stream.finish() == "\n        total += x"
