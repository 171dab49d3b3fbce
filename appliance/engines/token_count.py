"""Counting tokens the way the model will see them, fast: prompt building counts hundreds of short texts per
cold prompt (lines of the prefix, candidate snippets), where a transformers tokenizer's `__call__` costs ~94 µs a
line and its Rust backend's `encode` ~28 µs for the same ids (bench/RESULTS.md, Gateway)."""

from __future__ import annotations

from typing import Any


def count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens `text` takes inside a prompt (no special tokens added)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)  # fast (Rust) tokenizers only
    if backend is not None:
        return len(backend.encode(text, add_special_tokens=False).ids)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
