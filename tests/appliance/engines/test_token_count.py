"""The fast token count equals what the tokenizer's own `__call__` gives, on real code and odd text."""

from __future__ import annotations

import inspect
import json

import pytest

from appliance.engines.token_count import count_tokens
from tests.licensing.model_cache import smollm2_fp32_dir


@pytest.fixture(scope="module")
def tokenizer():  # noqa: ANN201 (a transformers tokenizer)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_fp32_dir(), local_files_only=True)


def test_fast_count_equals_the_tokenizers_own(tokenizer) -> None:  # noqa: ANN001
    assert tokenizer.backend_tokenizer is not None
    texts = inspect.getsource(json).splitlines() + [
        "",
        " ",
        "\t\t",
        "<|endoftext|>",
        "<|im_start|>user",
        "émoji 🧪 漢字",
        "x" * 5000,
        "\x00\x01",
    ]
    for text in texts:
        assert count_tokens(tokenizer, text) == len(tokenizer(text, add_special_tokens=False)["input_ids"]), (
            text
        )


def test_slow_tokenizers_are_counted_too(tokenizer) -> None:  # noqa: ANN001
    class Slow:  # a tokenizer without a Rust backend (sentencepiece-only models): only `__call__`
        def __call__(self, text: str, add_special_tokens: bool) -> dict[str, list[int]]:
            return tokenizer(text, add_special_tokens=add_special_tokens)

    code = "def add(a, b):\n    return a + b"
    assert count_tokens(Slow(), code) == count_tokens(tokenizer, code) > 5
